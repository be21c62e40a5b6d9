"""Redis's own settings: the visibility timeout bounds the limits and the countdowns."""

import pytest
from sqlalchemy.orm import Session

from {{ cookiecutter.package_name }}.config import Settings, settings
from {{ cookiecutter.package_name }}.outbox import add_to_outbox

from .support.probe_tasks import read_record


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        (
            {"TASK_TIME_LIMIT": "3000", "TASK_RETRY_BACKOFF_MAX": "600"},
            r"CELERY_VISIBILITY_TIMEOUT \(3600s\) must be longer than"
            r" TASK_TIME_LIMIT \+ TASK_RETRY_BACKOFF_MAX \(3600s\)",
        ),
        (
            {"TASK_RETRY_BACKOFF_MAX": "7200"},
            r"CELERY_VISIBILITY_TIMEOUT \(3600s\) must be longer",
        ),
    ],
    ids=["hard-limit-plus-backoff", "backoff"],
)
def test_limits_must_fit_inside_the_visibility_timeout(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], message: str
) -> None:
    monkeypatch.setenv("CELERY_VISIBILITY_TIMEOUT", "3600")
    for name, value in environment.items():
        monkeypatch.setenv(name, value)

    with pytest.raises(ValueError, match=message):
        Settings()


def test_the_outbox_takes_countdowns_up_to_the_visibility_timeout() -> None:
    session = Session()  # no database: nothing may reach one
    longest = settings.celery_visibility_timeout

    add_to_outbox(session, read_record.name, [1], countdown=longest)
    with pytest.raises(ValueError, match="countdown"):
        add_to_outbox(session, read_record.name, [1], countdown=longest + 1)
    assert len(session.new) == 1

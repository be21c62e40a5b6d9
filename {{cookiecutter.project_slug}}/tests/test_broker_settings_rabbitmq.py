"""RabbitMQ's own settings: countdowns wait in the broker, up to native delayed delivery's limit."""

import pytest
from kombu.transport import native_delayed_delivery
from sqlalchemy.orm import Session

from {{ cookiecutter.package_name }}.broker_settings import LONGEST_NATIVE_DELAY
from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.outbox import add_to_outbox

from .support.probe_tasks import read_record


def test_the_longest_countdown_is_native_delayed_deliverys() -> None:
    bits = native_delayed_delivery.MAX_NUMBER_OF_BITS_TO_USE
    levels = native_delayed_delivery.MAX_LEVEL + 1  # each level waits 2**level seconds or not

    assert LONGEST_NATIVE_DELAY == 2**bits - 1 == sum(2**level for level in range(levels))
    assert Settings().longest_countdown == LONGEST_NATIVE_DELAY


def test_the_outbox_takes_countdowns_up_to_native_delayed_deliverys_longest() -> None:
    session = Session()  # no database: nothing may reach one

    add_to_outbox(session, read_record.name, [1], countdown=2 * 3600)
    add_to_outbox(session, read_record.name, [1], countdown=LONGEST_NATIVE_DELAY)
    with pytest.raises(ValueError, match="countdown"):
        add_to_outbox(session, read_record.name, [1], countdown=LONGEST_NATIVE_DELAY + 1)
    assert len(session.new) == 2


def test_retry_delays_and_task_limits_are_not_bounded_by_an_hour(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Retry delays wait in the broker, not in the worker that ran the task.
    monkeypatch.setenv("TASK_TIME_LIMIT", "3000")
    monkeypatch.setenv("TASK_RETRY_BACKOFF_MAX", "7200")

    settings = Settings()

    assert settings.task_retry_backoff_max == 7200

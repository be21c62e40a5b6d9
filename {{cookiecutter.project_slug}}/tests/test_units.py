"""Fast checks of the pieces, with no broker, worker or database involved."""

import pytest

from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.db import engine_options
from {{ cookiecutter.package_name }}.sqlalchemy_task import SqlAlchemyTask, backoff_delay
from {{ cookiecutter.package_name }}.tasks import get_from_db, require_positive_int


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    from {{ cookiecutter.package_name }}.config import settings

    for retries in range(12):
        full = min(settings.task_retry_backoff_max, settings.task_retry_delay * 2**retries)
        delays = {backoff_delay(retries) for _ in range(50)}
        assert all(full / 2 <= delay <= full for delay in delays)
        assert len(delays) > 1, "jitter spreads out retries"


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASK_RETRY_DELAY", "0.2")
    monkeypatch.setenv("TASK_MAX_RETRIES", "4")
    monkeypatch.setenv("DATABASE_URL", "sqlite:///elsewhere.sqlite3")

    settings = Settings()

    assert settings.task_retry_delay == pytest.approx(0.2)
    assert settings.task_max_retries == 4
    assert settings.database_url == "sqlite:///elsewhere.sqlite3"


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
        (
            {"DB_STATEMENT_TIMEOUT": "10", "TASK_SOFT_TIME_LIMIT": "30", "TASK_TIME_LIMIT": "30"},
            r"TASK_SOFT_TIME_LIMIT \(30s\) must be shorter than TASK_TIME_LIMIT \(30s\)",
        ),
        (
            {"DB_STATEMENT_TIMEOUT": "300", "TASK_SOFT_TIME_LIMIT": "300"},
            r"DB_STATEMENT_TIMEOUT \(300s\) must be shorter than TASK_SOFT_TIME_LIMIT",
        ),
    ],
    ids=["hard-limit-plus-backoff", "backoff", "soft-not-below-hard", "statement-not-below-soft"],
)
def test_limits_must_fit_inside_each_other(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], message: str
) -> None:
    monkeypatch.setenv("CELERY_VISIBILITY_TIMEOUT", "3600")
    for name, value in environment.items():
        monkeypatch.setenv(name, value)

    with pytest.raises(ValueError, match=message):
        Settings()


def test_settings_reject_a_nonsense_retry_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASK_RETRY_DELAY", "-1")

    with pytest.raises(ValueError, match="task_retry_delay"):
        Settings()


@pytest.mark.parametrize("value", [1, 42, 2**40])
def test_positive_ints_are_user_ids(value: int) -> None:
    assert require_positive_int(value, "user_id") == value


@pytest.mark.parametrize("value", [0, -1, True, "1", 1.0, None, [1]])
def test_anything_else_is_not_a_user_id(value: object) -> None:
    with pytest.raises(ValueError, match="user_id must be a positive integer"):
        require_positive_int(value, "user_id")


def test_server_databases_get_a_checked_pool_and_timeouts() -> None:
    from {{ cookiecutter.package_name }}.config import settings

    server = engine_options("postgresql+psycopg://app@db/app")
    # pooling.py checks connections without pool_pre_ping's and reset's round trips.
    assert "pool_pre_ping" not in server
    assert server["pool_reset_on_return"] is None
    assert server["pool_size"] == settings.db_pool_size
    assert server["connect_args"]["connect_timeout"] == settings.db_connect_timeout
    milliseconds = round(settings.db_statement_timeout * 1000)
    assert server["connect_args"]["options"] == f"-c statement_timeout={milliseconds}"
    assert "options" not in engine_options("mysql+pymysql://app@db/app")["connect_args"]


def test_sqlite_files_get_a_sized_pool_and_memory_does_not() -> None:
    assert "pool_pre_ping" not in engine_options("sqlite:///app.sqlite3")
    assert "pool_size" in engine_options("sqlite:///app.sqlite3")
    assert "pool_size" not in engine_options("sqlite://")


def test_get_from_db_runs_on_the_session_cleaning_base_class() -> None:
    assert isinstance(get_from_db, SqlAlchemyTask)
    assert get_from_db.max_retries == Settings().task_max_retries

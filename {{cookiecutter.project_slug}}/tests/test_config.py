"""Settings: from the environment, and refused when their limits do not nest."""

import pytest

from {{ cookiecutter.package_name }}.config import Settings

from .support.environment import PROJECT_ROOT


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
            {"DB_STATEMENT_TIMEOUT": "10", "TASK_SOFT_TIME_LIMIT": "30", "TASK_TIME_LIMIT": "30"},
            r"TASK_SOFT_TIME_LIMIT \(30s\) must be shorter than TASK_TIME_LIMIT \(30s\)",
        ),
        (
            {"DB_STATEMENT_TIMEOUT": "300", "TASK_SOFT_TIME_LIMIT": "300"},
            r"DB_STATEMENT_TIMEOUT \(300s\) must be shorter than TASK_SOFT_TIME_LIMIT",
        ),
    ],
    ids=["soft-not-below-hard", "statement-not-below-soft"],
)
def test_limits_must_fit_inside_each_other(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], message: str
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)

    with pytest.raises(ValueError, match=message):
        Settings()


@pytest.mark.parametrize(
    ("name", "value"),
    [("TASK_RETRY_DELAY", "-1"), ("LOG_LEVEL", "VERBOSE"), ("DB_POOL_SIZE", "0")],
)
def test_nonsense_values_are_refused_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)

    with pytest.raises(ValueError, match=name.lower()):
        Settings()


def test_every_setting_is_documented_in_the_docs_and_env_example() -> None:
    names = [name.upper() for name in Settings.model_fields]
    configuration = (PROJECT_ROOT / "docs" / "configuration.md").read_text()
    env_example = (PROJECT_ROOT / ".env.example").read_text()

    assert [name for name in names if f"`{name}`" not in configuration] == []
    assert [name for name in names if f"{name}=" not in env_example] == []

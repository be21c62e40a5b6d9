"""This test run's environment: its own database, queue and temporary folder.

The processes the tests start (workers, the web API, the relay) inherit the
run through the environment. Also the project's root, and what the run does
when a server it needs is down (``require_server``).
"""

import os
import tempfile
import uuid
from pathlib import Path

import pytest
from sqlalchemy.engine import URL, make_url

from {{ cookiecutter.package_name }} import config

from scripts.processes import PROJECT_ROOT

__all__ = [
    "PROJECT_ROOT",
    "RUN_ID",
    "TEST_SETTINGS",
    "TMP_DIR",
    "database_for_this_run",
    "queue_of",
    "require_server",
    "use_this_runs_database_and_queue",
]

RUN_ID = os.environ.setdefault("TEST_RUN_ID", uuid.uuid4().hex[:8])
if "TEST_TMP_DIR" not in os.environ:
    os.environ["TEST_TMP_DIR"] = tempfile.mkdtemp(prefix=f"tests-{RUN_ID}-")
TMP_DIR = Path(os.environ["TEST_TMP_DIR"])

# Small, fast retries for the workers; tests read them back from settings.
TEST_SETTINGS = {
    "TASK_MAX_RETRIES": "10",
    "TASK_RETRY_DELAY": "0.1",
    "TASK_RETRY_BACKOFF_MAX": "0.5",
    "TASK_MAX_DELIVERIES": "3",
    # No test reports to the developer's Sentry; those that report name their own.
    "SENTRY_DSN": "",
}


def database_for_this_run(server_url: str) -> URL:
    """A new database on the same server, or a new SQLite file."""
    url = make_url(server_url)
    if url.get_backend_name() == "sqlite":
        return url.set(database=str(TMP_DIR / "test.sqlite3"))
    return url.set(database=f"test_{{ cookiecutter.package_name }}_{RUN_ID}")


def use_this_runs_database_and_queue() -> None:
    """Set the environment, then rebuild ``config.settings`` from it; once per run."""
    if "SERVER_DATABASE_URL" in os.environ:
        return  # a process the run started: the environment is set already
    server_url = config.settings.database_url
    os.environ["SERVER_DATABASE_URL"] = server_url
    os.environ["DATABASE_URL"] = database_for_this_run(server_url).render_as_string(
        hide_password=False
    )
{%- if cookiecutter.database == 'postgresql' %}
    direct_url = os.environ.get("DATABASE_DIRECT_URL")
    if direct_url:  # the same database, on the server itself rather than through the pooler
        os.environ["DATABASE_DIRECT_URL"] = database_for_this_run(direct_url).render_as_string(
            hide_password=False
        )
{%- endif %}
    os.environ["CELERY_QUEUE"] = queue_of("session")
    os.environ.update(TEST_SETTINGS)
    config.settings = config.Settings()


def queue_of(name: str) -> str:
    return f"test-{RUN_ID}-{name}"


def require_server(what: str, url: str, error: Exception) -> None:
    """Fail under CI, skip elsewhere, when a server the tests need is down."""
    message = f"{what} at {make_url(url).render_as_string()} is not reachable ({error})"
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(f"{message}; start it{{ ' (docker compose up -d)' if cookiecutter.use_docker else '' }} or point the URL at one")

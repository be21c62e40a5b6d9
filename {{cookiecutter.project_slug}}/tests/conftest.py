"""Fixtures: a fresh, migrated database and a real worker for each test run.

The servers come from DATABASE_URL and CELERY_BROKER_URL (environment, then
.env), as for the service itself. The run creates its own database on that
server (or a temporary SQLite file) and its own queue on that broker, so it
never touches real data or a worker that is already running.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, delete
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, scoped_session
from sqlalchemy_utils import create_database, database_exists, drop_database

from {{ cookiecutter.package_name }} import config
from {{ cookiecutter.package_name }}.models import User

from .tcp_proxy import TcpProxy
from .worker_process import APP, WorkerProcess, running_worker

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RUN_ID = uuid.uuid4().hex[:8]
TMP_DIR = Path(tempfile.mkdtemp(prefix=f"{{ cookiecutter.package_name }}-tests-{RUN_ID}-"))

# The servers a TcpProxy can stand in front of, by SQLAlchemy backend name.
DATABASE_PORTS = {"postgresql": 5432, "mysql": 3306}

# Tasks that only tests need (slow ones, probes); every test worker loads them.
TEST_TASKS = ("tests.worker_tasks",)

# Small, fast retry settings for the worker; tests read them back from settings.
TEST_RETRY_SETTINGS = {
    "TASK_MAX_RETRIES": "10",
    "TASK_RETRY_DELAY": "0.1",
    "TASK_RETRY_BACKOFF_MAX": "0.5",
}


def database_for_this_run(server_url: str) -> URL:
    """A new database on the same server, or a new SQLite file."""
    url = make_url(server_url)
    if url.get_backend_name() == "sqlite":
        return url.set(database=str(TMP_DIR / "test.sqlite3"))
    return url.set(database=f"test_{{ cookiecutter.package_name }}_{RUN_ID}")


def pytest_configure() -> None:
    """Point settings at this run's database and queue before anything uses them.

    Settings are read once, when the package is first imported; the engine and
    the Celery app are built from them. So the environment is set here, before
    test modules import the package, and ``config.settings`` is rebuilt from it.
    The worker subprocess inherits the same environment.
    """
    server_url = config.settings.database_url
    os.environ["SERVER_DATABASE_URL"] = server_url
    os.environ["DATABASE_URL"] = database_for_this_run(server_url).render_as_string(
        hide_password=False
    )
    os.environ["CELERY_QUEUE"] = f"test-{RUN_ID}"
    os.environ.update(TEST_RETRY_SETTINGS)
    config.settings = config.Settings()


def pytest_unconfigure() -> None:
    shutil.rmtree(TMP_DIR, ignore_errors=True)


def wait_until(condition: Callable[[], object], what: str, timeout: float = 60) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``timeout`` seconds.

    Tests wait for what the worker did, never for a fixed time: a busy machine
    makes any fixed sleep too short sometimes.
    """
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(0.05)


def has_retried(worker: WorkerProcess, task_id: str) -> Callable[[], bool]:
    """True once ``worker`` has logged a retry of the task: it looked at least once."""
    return lambda: f"[{task_id}] retry" in worker.log()


def require_server(what: str, url: str, error: Exception) -> None:
    """Fail under CI, skip elsewhere, when a server the tests need is down."""
    message = f"{what} at {make_url(url).render_as_string()} is not reachable ({error})"
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(f"{message}; start it{{ ' (docker compose up -d)' if cookiecutter.use_docker else '' }} or point the URL at one")


def alembic(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the alembic command line, as a user would, on this run's database."""
    return subprocess.run(
        [sys.executable, "-m", "alembic", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """This run's database, created empty and migrated to head."""
    url = os.environ["DATABASE_URL"]
    server_url = os.environ["SERVER_DATABASE_URL"]
    if make_url(server_url).get_backend_name() != "sqlite":
        try:
            create_engine(server_url).connect().close()
        except Exception as error:
            require_server("The database server", server_url, error)
    create_database(url)
    try:
        alembic("upgrade", "head")
        yield url
    finally:
        from {{ cookiecutter.package_name }}.db import engine

        engine.dispose()
        if database_exists(url):
            drop_database(url)


@pytest.fixture
def database_server(database_url: str) -> str:
    """This run's database server kind; the test is skipped on SQLite, a file."""
    backend = make_url(database_url).get_backend_name()
    if backend not in DATABASE_PORTS:
        pytest.skip(f"needs a database server; {backend} has no connection to a server")
    return backend


@pytest.fixture
def database_proxy(database_url: str, database_server: str) -> Iterator[TcpProxy]:
    """A started TcpProxy in front of this run's database server, stopped afterwards."""
    with TcpProxy.in_front_of(database_url, DATABASE_PORTS[database_server]) as proxy:
        yield proxy


@pytest.fixture(scope="session")
def broker(database_url: str) -> str:
    """The broker's URL, once it is known to be reachable."""
    from {{ cookiecutter.package_name }}.celery import app

    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1)
    except Exception as error:
        require_server("The broker", config.settings.celery_broker_url, error)
    return config.settings.celery_broker_url


@pytest.fixture(scope="session")
def worker(broker: str) -> Iterator[WorkerProcess]:
    """A real ``celery worker``: prefork pool, two processes, this run's queue."""
    with running_worker(
        TMP_DIR / "worker.log", node_name=f"test-{RUN_ID}", include=TEST_TASKS
    ) as process:
        yield process


def queue_of(name: str) -> str:
    """The queue of the worker that ``own_worker(name)`` starts."""
    return f"test-{RUN_ID}-{name}"


def own_worker(
    name: str,
    *,
    pool: str = "prefork",
    concurrency: int = 2,
    node: str | None = None,
    env: Mapping[str, str] | None = None,
    app: str | None = None,
    extra: Sequence[str] = (),
) -> AbstractContextManager[WorkerProcess]:
    """A worker of the test's own, consuming only ``queue_of(name)``.

    For tests that need a pool, concurrency or environment other than the
    session's worker's, or must know which worker ran what. Send its tasks
    with ``apply_async(..., queue=queue_of(name))``. Several workers may share
    the queue under different ``node`` names. ``app`` names another app module
    (its worker then loads only that app's tasks); ``extra`` adds worker
    options. Needs the ``broker`` fixture.
    """
    node = node or name
    return running_worker(
        TMP_DIR / f"{node}.log",
        pool=pool,
        concurrency=concurrency,
        node_name=f"{node}-{RUN_ID}",
        queue=queue_of(name),
        include=() if app else TEST_TASKS,
        app=app or APP,
        extra=extra,
        env=env,
    )


def add_user(session: scoped_session[Session], user_id: int, name: str = "Ada") -> User:
    user = User(id=user_id, name=name, email=f"user{user_id}@example.com")
    session.add(user)
    session.commit()
    return user


@pytest.fixture
def session(database_url: str) -> Iterator[scoped_session[Session]]:
    """The app's ``db_session`` for the test's own writes; emptied afterwards."""
    from {{ cookiecutter.package_name }}.db import db_session

    yield db_session
    db_session.remove()
    db_session.execute(delete(User))
    db_session.commit()
    db_session.remove()


@pytest.fixture
def unwatched_queue(broker: str) -> Iterator[str]:
    """A queue no worker consumes, so what reaches the broker stays there to count."""
    from .broker_state import delete_queue

    name = f"test-{RUN_ID}-unwatched-{uuid.uuid4().hex[:8]}"
    yield name
    delete_queue(name)

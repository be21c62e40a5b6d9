"""Fixtures: this run's migrated database, its broker queue, and a real worker.

The engine and the app are imported inside the fixtures, after ``tests.support``
has pointed the settings at this run.
"""

import os
import shutil
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, scoped_session
from sqlalchemy_utils import create_database, database_exists, drop_database

from {{ cookiecutter.package_name }} import config
from {{ cookiecutter.package_name }}.telemetry.metrics import use_multiprocess_mode

from .support.broker_state import delete_queue
from .support.database_state import empty_tables, terminate_connections
from .support.environment import TMP_DIR, queue_of, require_server
from .support.processes import alembic
from .support.records import RecordBase
from .support.tcp_proxy import DEFAULT_PORTS, TcpProxy, scheme
from .support.workers import ChildProcess, own_worker


def pytest_configure() -> None:
    # The tests count and read metrics in this process too, as a worker's main
    # process does: in files, which the processes they start do not share.
    use_multiprocess_mode()


def pytest_unconfigure() -> None:
    shutil.rmtree(TMP_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """This run's database, created empty, migrated to head, with the tests' own table."""
    url = os.environ["DATABASE_URL"]
    # Created and dropped on the server itself, not through a pooler.
    direct_url = config.settings.direct_database_url
    server_url = os.environ["SERVER_DATABASE_URL"]
    if make_url(server_url).get_backend_name() != "sqlite":
        try:
            create_engine(server_url).connect().close()
        except Exception as error:
            require_server("The database server", server_url, error)
    create_database(direct_url)
    from {{ cookiecutter.package_name }}.db import engine

    try:
        alembic("upgrade", "head")
        RecordBase.metadata.create_all(engine)
        yield url
    finally:
        engine.dispose()
        if direct_url != url:  # the pooler keeps its server connections open
            terminate_connections(direct_url)
        if database_exists(direct_url):
            drop_database(direct_url)


@pytest.fixture
def empty_database(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A second database beside the run's one, for migrating up and down, on the server itself."""
    url = make_url(config.settings.direct_database_url)
    name = url.database or ""
    if name.endswith(".sqlite3"):
        other = url.set(database=name.replace(".sqlite3", "-migrations.sqlite3"))
    else:
        other = url.set(database=f"{name}_migrations")
    other_url = other.render_as_string(hide_password=False)
    create_database(other_url)
    monkeypatch.setenv("DATABASE_URL", other_url)
{%- if cookiecutter.database == 'postgresql' %}
    monkeypatch.delenv("DATABASE_DIRECT_URL", raising=False)
{%- endif %}
    yield other_url
    drop_database(other_url)


@pytest.fixture
def database_server(database_url: str) -> str:
    """This run's database server kind; the test is skipped on SQLite, a file."""
    backend = make_url(database_url).get_backend_name()
    if backend not in DEFAULT_PORTS:
        pytest.skip(f"needs a database server; {backend} has no connection to a server")
    return backend


@pytest.fixture
def database_proxy(database_url: str, database_server: str) -> Iterator[TcpProxy]:
    """A started proxy in front of this run's database server, stopped afterwards."""
    with TcpProxy.in_front_of(database_url) as proxy:
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


@pytest.fixture
def broker_server(broker: str) -> str:
    """The broker's URL; the test is skipped on the embedded SQLite broker, a file."""
    if scheme(broker) not in DEFAULT_PORTS:
        pytest.skip("the embedded SQLite broker cannot be down or refuse: it is a file")
    return broker


@pytest.fixture(scope="session")
def worker(broker: str) -> Iterator[ChildProcess]:
    """The run's real ``celery worker``: prefork, two processes, the default queue."""
    with own_worker("session") as process:
        yield process


@pytest.fixture
def session(database_url: str) -> Iterator[scoped_session[Session]]:
    """The app's ``db_session`` for the test's own writes; every table emptied afterwards."""
    from {{ cookiecutter.package_name }}.db import db_session

    yield db_session
    db_session.remove()
    empty_tables(db_session)
    db_session.remove()


@pytest.fixture
def unwatched_queue(broker: str) -> Iterator[str]:
    """A queue no worker consumes, so what reaches the broker stays there to count."""
    name = queue_of(f"unwatched-{uuid.uuid4().hex[:8]}")
    yield name
    delete_queue(name)

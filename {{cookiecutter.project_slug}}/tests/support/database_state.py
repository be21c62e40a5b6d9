"""What the database server can tell about its clients: their connections and transactions."""

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, NullPool, TextClause, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, scoped_session

{% if cookiecutter.web != 'none' -%}
from {{ cookiecutter.package_name }}.idempotency_keys import IdempotencyKey  # noqa: F401
{% endif -%}
from {{ cookiecutter.package_name }}.models import Base
from {{ cookiecutter.package_name }}.outbox import model as outbox_model  # noqa: F401
from {{ cookiecutter.package_name }}.worker import task_records  # noqa: F401

from .records import RecordBase

# The service's tables (the outbox's once its model is imported), and every
# table a test may write to: those and the tests' own.
SERVICE_TABLES = {table.name for table in Base.metadata.sorted_tables}
TABLES = [*Base.metadata.sorted_tables, *RecordBase.metadata.sorted_tables]


def empty_tables(session: Session | scoped_session[Session]) -> None:
    """Delete every row the tests may have written, whatever models the service has."""
    for table in reversed(TABLES):
        session.execute(table.delete())
    session.commit()


def is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


@contextmanager
def observer(url: URL) -> Iterator[Connection]:
    """A connection of the test's own, outside every pool, closed afterwards."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def busy_connections(database_url: str) -> int:
    """Connections to this database that are in a transaction or running a query.

    An idle pooled connection is fine; one left in a transaction holds locks
    and, on MySQL/MariaDB, an old snapshot. A task that cleans up leaves none.
    """
    url = make_url(database_url)
    if is_sqlite(url):
        return _sqlite_lock_holders(url.database or "")
    if url.get_backend_name() == "postgresql":
        query = text(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = :db AND pid <> pg_backend_pid() AND state <> 'idle'"
        )
    else:
        query = text(
            "SELECT count(*) FROM information_schema.innodb_trx trx"
            " JOIN information_schema.processlist p ON p.id = trx.trx_mysql_thread_id"
            " WHERE p.db = :db AND p.id <> CONNECTION_ID()"
        )
    with observer(url) as connection:
        return int(connection.execute(query, {"db": url.database}).scalar_one())


def _sqlite_lock_holders(path: str) -> int:
    """1 if another connection holds a lock on the file, else 0.

    SQLite has no list of clients; an exclusive lock, taken without waiting,
    succeeds only when no other connection is inside a transaction.
    """
    connection = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        connection.execute("BEGIN EXCLUSIVE")
        connection.execute("ROLLBACK")
        return 0
    except sqlite3.OperationalError:
        return 1
    finally:
        connection.close()


def _count_query(url: URL) -> TextClause:
    if url.get_backend_name() == "postgresql":
        return text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = :db AND pid <> pg_backend_pid()"
        )
    return text(
        "SELECT count(*) FROM information_schema.processlist"
        " WHERE db = :db AND id <> CONNECTION_ID()"
    )


def connection_count(database_url: str) -> int | None:
    """Connections open to this database from other clients; None for SQLite."""
    url = make_url(database_url)
    if is_sqlite(url):
        return None
    with observer(url) as connection:
        return int(connection.execute(_count_query(url), {"db": url.database}).scalar_one())


class PeakConnections:
    """Samples ``connection_count`` in the background; ``peak`` is the highest seen."""

    def __init__(self, database_url: str, every: float = 0.02) -> None:
        self.url = make_url(database_url)
        self.every = every
        self.peak = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> "PeakConnections":
        if not is_sqlite(self.url):  # no server, no connections to count
            self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _sample(self) -> None:
        # One connection for all samples, so sampling does not churn the server.
        query = _count_query(self.url)
        with observer(self.url) as connection:
            while not self._stop.is_set():
                count = connection.execute(query, {"db": self.url.database}).scalar_one()
                connection.rollback()  # a fresh snapshot each time
                self.peak = max(self.peak, int(count))
                self.samples += 1
                self._stop.wait(self.every)


def terminate_connections(database_url: str) -> int:
    """Cut every other client's connection to this database, as a failover would.

    Returns how many were cut. PostgreSQL: pg_terminate_backend; MySQL/MariaDB: KILL.
    """
    url = make_url(database_url)
    with observer(url) as connection:
        if url.get_backend_name() == "postgresql":
            cut = connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = :db AND pid <> pg_backend_pid()"
                ),
                {"db": url.database},
            )
            return len(cut.all())
        ids = connection.execute(
            text(
                "SELECT id FROM information_schema.processlist"
                " WHERE db = :db AND id <> CONNECTION_ID()"
            ),
            {"db": url.database},
        ).scalars()
        killed = 0
        for connection_id in ids.all():
            connection.execute(text(f"KILL {int(connection_id)}"))
            killed += 1
        return killed


def abandoned_sessions(database_url: str) -> int | None:
    """How many clients so far left without closing their connection; None for SQLite.

    PostgreSQL counts them per database (sessions_abandoned); MySQL/MariaDB
    for the whole server (Aborted_clients).
    """
    url = make_url(database_url)
    if is_sqlite(url):
        return None
    with observer(url) as connection:
        if url.get_backend_name() == "postgresql":
            query = text("SELECT sessions_abandoned FROM pg_stat_database WHERE datname = :db")
            return int(connection.execute(query, {"db": url.database}).scalar_one())
        row = connection.execute(text("SHOW GLOBAL STATUS LIKE 'Aborted_clients'")).one()
        return int(row[1])

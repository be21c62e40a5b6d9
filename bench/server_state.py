"""What the database server says about the benchmark database's clients.

PostgreSQL answers from ``pg_stat_activity``, MySQL/MariaDB from the process
list and ``innodb_trx``. SQLite has no server and no clients to count: every
function here returns None for it.
"""

import threading

from sqlalchemy import NullPool, TextClause, create_engine, text
from sqlalchemy.engine import URL, make_url

OPEN_CONNECTIONS = {
    "postgresql": "SELECT count(*) FROM pg_stat_activity"
    " WHERE datname = :db AND pid <> pg_backend_pid()",
    "mysql": "SELECT count(*) FROM information_schema.processlist"
    " WHERE db = :db AND id <> CONNECTION_ID()",
}

# A connection that finished its work but not its transaction: it holds locks
# and, on MySQL/MariaDB, an old snapshot until someone ends it.
IDLE_IN_TRANSACTION = {
    "postgresql": "SELECT count(*) FROM pg_stat_activity"
    " WHERE datname = :db AND state = 'idle in transaction'",
    "mysql": "SELECT count(*) FROM information_schema.innodb_trx trx"
    " JOIN information_schema.processlist p ON p.id = trx.trx_mysql_thread_id"
    " WHERE p.db = :db AND p.command = 'Sleep'",
}


def _query(url: URL, queries: dict[str, str]) -> TextClause | None:
    sql = queries.get(url.get_backend_name())
    return text(sql) if sql else None


def _count(database_url: str, queries: dict[str, str]) -> int | None:
    url = make_url(database_url)
    query = _query(url, queries)
    if query is None:
        return None
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return int(connection.execute(query, {"db": url.database}).scalar_one())
    finally:
        engine.dispose()


def open_connections(database_url: str) -> int | None:
    """Connections to this database from other clients; None for SQLite."""
    return _count(database_url, OPEN_CONNECTIONS)


def idle_in_transaction(database_url: str) -> int | None:
    """Connections to this database sitting in an unfinished transaction."""
    return _count(database_url, IDLE_IN_TRANSACTION)


class PeakConnections:
    """Counts the database's connections every ``every`` seconds in a thread.

    ``peak`` is the highest count seen, None where there is nothing to count.
    One connection serves all samples, and the count excludes it.
    """

    def __init__(self, database_url: str, every: float = 0.02) -> None:
        self.url = make_url(database_url)
        self.every = every
        self.query = _query(self.url, OPEN_CONNECTIONS)
        self.peak: int | None = None if self.query is None else 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> "PeakConnections":
        if self.query is not None:
            self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop sampling (once is enough; later calls do nothing)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _sample(self) -> None:
        query = self.query
        if query is None:
            return
        engine = create_engine(self.url, poolclass=NullPool)
        try:
            with engine.connect() as connection:
                while not self._stop.is_set():
                    count = connection.execute(query, {"db": self.url.database}).scalar_one()
                    connection.rollback()  # a fresh snapshot for the next sample
                    self.peak = max(self.peak or 0, int(count))
                    self.samples += 1
                    self._stop.wait(self.every)
        finally:
            engine.dispose()

"""What the database server can tell us about other clients' transactions."""

import sqlite3

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


def busy_connections(database_url: str) -> int:
    """Connections to this database that are in a transaction or running a query.

    An idle pooled connection is fine; one left in a transaction holds locks
    and, on MySQL/MariaDB, an old snapshot. A task that cleans up leaves none.
    """
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return _sqlite_lock_holders(url.database or "")
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
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
            return int(connection.execute(query, {"db": url.database}).scalar_one())
    finally:
        engine.dispose()


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

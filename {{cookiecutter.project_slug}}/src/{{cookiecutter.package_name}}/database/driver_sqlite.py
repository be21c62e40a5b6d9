"""What the database server needs; this service's database is a SQLite file, with no server.

``engine.py``, ``connection_checks.py``, ``transient_errors.py`` and the
outbox relay ask this module about the database server; SQLite's own needs
are in ``sqlite.py``, so each answer here is "nothing".
"""

from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

RELAY_EXECUTION_OPTIONS: dict[str, Any] = {}
ORDER_BY_EVERY_INDEX_COLUMN = True


def connect_args(url: URL) -> dict[str, Any]:
    return {}


def prepare_engine(engine: Engine) -> None:
    """Nothing to add to SQLite's own listeners (``sqlite.py``)."""


def prepare_migration(connection: Connection) -> None:
    """Nothing: SQLite has no statement timeout to lift.

    A migration waits for another process's write lock as every connection
    does, up to the busy timeout set in ``engine.py``, not MIGRATION_LOCK_TIMEOUT.
    """


def lock_timed_out(error: DBAPIError) -> bool:
    """False: a SQLite migration that waited too long fails as "database is locked"."""
    return False


def read_without_transaction(connection: Connection) -> None:
    """Nothing: SQLite keeps its BEGIN, which costs no round trip."""


def plain_socket(dbapi_connection: Any) -> int | None:
    """None: a SQLite connection has no socket."""
    return None


def in_transaction(dbapi_connection: Any) -> bool:
    """Whether sqlite3 says a transaction is open; True when it cannot say."""
    return bool(getattr(dbapi_connection, "in_transaction", True))


def server_error_is_transient(error: DBAPIError) -> bool:
    """False: every SQLite error is judged in ``sqlite.py``."""
    return False

"""What SQLite needs set on each connection: the embedded mode's database, in every bake."""

from typing import Any

from sqlalchemy import Engine, event

# https://www.sqlite.org/rescode.html: SQLITE_BUSY, SQLITE_LOCKED ("database is locked").
SQLITE_TRANSIENT_CODES = {5, 6}


def use_real_sqlite_transactions(engine: Engine) -> None:
    """BEGIN when the session begins, not before the first write (SQLAlchemy's recipe).

    ``engine.execution_options(sqlite_begin="IMMEDIATE")`` takes the write lock
    at once.
    """

    @event.listens_for(engine, "connect")
    def _driver_leaves_transactions_to_us(dbapi_connection: Any, _: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "")
        connection.exec_driver_sql(f"BEGIN {mode}")


def sqlite_error_is_transient(driver_error: Any) -> bool | None:
    """Whether a SQLite error may heal; None if ``driver_error`` is not SQLite's."""
    sqlite_code = getattr(driver_error, "sqlite_errorcode", None)
    if not isinstance(sqlite_code, int):
        return None
    # The low byte is the primary code; extended codes add detail above it.
    return sqlite_code & 0xFF in SQLITE_TRANSIENT_CODES

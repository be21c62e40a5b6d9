"""What PostgreSQL (psycopg 3) needs: connection options, listeners, and its error codes.

``engine.py``, ``connection_checks.py``, ``transient_errors.py`` and the
outbox relay ask this module what they need to know about the database server.
"""

from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.pool import ConnectionPoolEntry, PoolResetState

from ..config import settings

# https://www.postgresql.org/docs/current/errcodes-appendix.html
LOCK_NOT_AVAILABLE = "55P03"  # lock_timeout
POSTGRESQL_TRANSIENT_SQLSTATES = {
    "40001",  # serialization_failure
    "40P01",  # deadlock_detected
    LOCK_NOT_AVAILABLE,
    "53300",  # too_many_connections
    "57P01",  # admin_shutdown
    "57P02",  # crash_shutdown
    "57P03",  # cannot_connect_now (starting up, recovering)
}
# Class 08: connection exceptions (refused, lost, protocol failure).
POSTGRESQL_TRANSIENT_CLASSES = {"08"}

# The relay's transaction: PostgreSQL's default READ COMMITTED suits it.
RELAY_EXECUTION_OPTIONS: dict[str, Any] = {}
# PostgreSQL reads a multi-column index without sorting only when told all its columns.
ORDER_BY_EVERY_INDEX_COLUMN = True


def through_pooler(url: URL) -> bool:
    """Whether ``url`` reaches the server through a transaction pooler (PgBouncer).

    The rule (docs/configuration.md): DATABASE_DIRECT_URL is set, and ``url``
    is another URL. The pooler hands each transaction whichever server
    connection is free, so nothing may outlive a transaction on it.
    """
    direct = settings.database_direct_url
    if not direct:  # unset, or empty in .env
        return False
    return make_url(direct) != url


def connect_args(url: URL) -> dict[str, Any]:
    args: dict[str, Any] = {"connect_timeout": settings.db_connect_timeout}
    if through_pooler(url):
        # psycopg prepares a statement run 5 times on the connection; the next
        # transaction may get another server connection, which lacks it
        # ('prepared statement "_pg3_0" does not exist', psycopg issue 280).
        args["prepare_threshold"] = None
        # PgBouncer refuses the startup options below: the timeout is the
        # role's default in the database instead (keep_statement_timeout).
        return args
    if settings.db_statement_timeout:
        milliseconds = round(settings.db_statement_timeout * 1000)
        args["options"] = f"-c statement_timeout={milliseconds}"
    return args


def prepare_engine(engine: Engine) -> None:
    """Hand the next user a connection that begins transactions (``read_without_transaction``)."""

    @event.listens_for(engine, "reset")
    def _transactions_again(
        dbapi_connection: Any, _: ConnectionPoolEntry, __: PoolResetState
    ) -> None:
        if dbapi_connection.autocommit:
            dbapi_connection.autocommit = False


def prepare_migration(connection: Connection) -> None:
    """In the migration's transaction: no DB_STATEMENT_TIMEOUT, and MIGRATION_LOCK_TIMEOUT.

    A step may rightly run for minutes, but waiting for a lock it queues every
    other user of the table behind it. SET LOCAL ends with the transaction
    (one for the whole run: PostgreSQL's DDL is transactional), so it reaches
    no other user of the connection, through a pooler either. An
    ``autocommit_block()`` (CREATE INDEX CONCURRENTLY) ends that transaction:
    give such a step a revision of its own, which sets both itself. SQLite
    (embedded mode) waits its busy timeout instead.
    """
    if connection.dialect.name != "postgresql":
        return
    connection.exec_driver_sql("SET LOCAL statement_timeout = 0")
    connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{settings.migration_lock_timeout}s'")
    if through_pooler(make_url(settings.database_url)):
        keep_statement_timeout(connection)


def keep_statement_timeout(connection: Connection) -> None:
    """Make DB_STATEMENT_TIMEOUT the default of this role's sessions in this database.

    Through a pooler no startup option can carry it. The role's default costs
    no round trip (``SET LOCAL`` at each BEGIN would cost one), covers reads in
    autocommit too, and an ordinary role may set its own. The server applies
    it to sessions it starts afterwards: the pooler's older server
    connections keep the value they started with until it replaces them
    (PgBouncer: server_lifetime, or RECONNECT on its console).
    Run by every migration (prestart), on the direct connection; committed
    with the migration.
    """
    milliseconds = round(settings.db_statement_timeout * 1000)
    connection.exec_driver_sql(
        "DO $$ BEGIN EXECUTE format("
        "'ALTER ROLE CURRENT_USER IN DATABASE %%I SET statement_timeout = %%s',"
        f" current_database(), {milliseconds}); END $$"
    )


def lock_timed_out(error: DBAPIError) -> bool:
    """Whether the statement gave up waiting for a lock (``lock_timeout``)."""
    return getattr(error.orig, "sqlstate", None) == LOCK_NOT_AVAILABLE


def read_without_transaction(connection: Connection) -> None:
    """psycopg: no BEGIN before this connection's statements until it returns to the pool.

    The driver's own switch, where ``isolation_level="AUTOCOMMIT"`` would also
    set the isolation level, and reset both on return: four driver calls, not
    two. Statements share no snapshot. SQLite (embedded mode) keeps its BEGIN.
    """
    if connection.dialect.name != "postgresql":
        return
    driver: Any = connection.connection.driver_connection
    driver.autocommit = True


def plain_socket(dbapi_connection: Any) -> int | None:
    """The connection's socket; None over TLS or for a driver not known here."""
    # TLS 1.3 may deliver records nobody asked for, which would look like a
    # closed connection: those get a real ping.
    pgconn = getattr(dbapi_connection, "pgconn", None)
    if pgconn is not None:
        return None if pgconn.ssl_in_use else int(pgconn.socket)
    return None


def in_transaction(dbapi_connection: Any) -> bool:
    """Whether psycopg says a transaction is open; True when it cannot say."""
    status = getattr(getattr(dbapi_connection, "info", None), "transaction_status", None)
    if status is not None:  # IDLE, or INTRANS, INERROR, ACTIVE
        return bool(status.name != "IDLE")
    return True


def server_error_is_transient(error: DBAPIError) -> bool:
    """Whether psycopg's error may heal, by its SQLSTATE."""
    sqlstate: str | None = getattr(error.orig, "sqlstate", None)
    if sqlstate is None:
        # Not from the server: psycopg's own errors are about the connection.
        return isinstance(error, OperationalError)
    return (
        sqlstate in POSTGRESQL_TRANSIENT_SQLSTATES or sqlstate[:2] in POSTGRESQL_TRANSIENT_CLASSES
    )

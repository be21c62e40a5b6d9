"""What MySQL and MariaDB (PyMySQL) need: connection options, listeners, and their error codes.

``engine.py``, ``connection_checks.py``, ``transient_errors.py`` and the
outbox relay ask this module what they need to know about the database server.
"""

import ssl
from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from ..config import settings

# https://mariadb.com/kb/en/mariadb-error-code-reference/
LOCK_WAIT_TIMEOUT = 1205  # lock wait timeout exceeded: a row lock or a metadata lock
MYSQL_TRANSIENT_ERRORS = {
    1040,  # too many connections
    1053,  # server shutdown in progress
    LOCK_WAIT_TIMEOUT,
    1213,  # deadlock found when trying to get lock
    1927,  # connection was killed (MariaDB)
    2002,  # can't connect through the socket
    2003,  # can't connect to the server
    2006,  # server has gone away
    2013,  # lost connection during query
    4031,  # disconnected by the server for inactivity (MySQL 8)
}

# PyMySQL's flag, from the server's last reply: the session has an open transaction.
SERVER_STATUS_IN_TRANS = 1

# The relay's transaction: REPEATABLE READ would lock the gap after the last
# unsent row and block every writer of a new message until the relay commits.
RELAY_EXECUTION_OPTIONS: dict[str, Any] = {"isolation_level": "READ COMMITTED"}
# MySQL/MariaDB read the outbox's index without sorting only when told id alone.
ORDER_BY_EVERY_INDEX_COLUMN = False


def connect_args(url: URL) -> dict[str, Any]:
    return {"connect_timeout": settings.db_connect_timeout}


def prepare_engine(engine: Engine) -> None:
    """Have the server cancel statements longer than DB_STATEMENT_TIMEOUT.

    MariaDB names the limit max_statement_time (seconds, any statement), MySQL
    max_execution_time (milliseconds, SELECT only): each connection asks which
    server it reached.
    """
    if not settings.db_statement_timeout:
        return

    @event.listens_for(engine, "connect")
    def _limit(dbapi_connection: Any, _: Any) -> None:
        seconds = settings.db_statement_timeout
        if "mariadb" in dbapi_connection.get_server_info().lower():
            statement = f"SET SESSION max_statement_time = {seconds:f}"
        else:
            statement = f"SET SESSION max_execution_time = {round(seconds * 1000)}"
        with dbapi_connection.cursor() as cursor:
            cursor.execute(statement)


def prepare_migration(connection: Connection) -> None:
    """For the migration's connection: no DB_STATEMENT_TIMEOUT, and MIGRATION_LOCK_TIMEOUT.

    A step may rightly run for minutes, but waiting for a lock it queues every
    other user of the table behind it: lock_wait_timeout bounds the wait for a
    table's metadata lock (ALTER TABLE), innodb_lock_wait_timeout for a row's.
    For the session: MySQL has no SET LOCAL, and the migration's connection is
    closed when it ends (``migrations/env.py``). SQLite (embedded mode) waits
    its busy timeout instead.
    """
    if connection.dialect.name not in ("mysql", "mariadb"):
        return
    seconds = settings.migration_lock_timeout
    driver: Any = connection.connection.driver_connection
    mariadb = "mariadb" in driver.get_server_info().lower()
    unlimited = "max_statement_time" if mariadb else "max_execution_time"
    connection.exec_driver_sql(
        f"SET SESSION {unlimited} = 0, lock_wait_timeout = {seconds},"
        f" innodb_lock_wait_timeout = {seconds}"
    )


def lock_timed_out(error: DBAPIError) -> bool:
    """Whether the statement gave up waiting for a lock (either lock wait timeout)."""
    args: tuple[Any, ...] = getattr(error.orig, "args", ())
    return len(args) > 0 and args[0] == LOCK_WAIT_TIMEOUT


def read_without_transaction(connection: Connection) -> None:
    """Nothing: on MySQL/MariaDB switching to autocommit costs more than the BEGIN it saves."""


def plain_socket(dbapi_connection: Any) -> int | None:
    """The connection's socket; None over TLS or for a driver not known here."""
    # TLS 1.3 may deliver records nobody asked for, which would look like a
    # closed connection: those get a real ping.
    sock = getattr(dbapi_connection, "_sock", None)
    if sock is not None and not isinstance(sock, ssl.SSLSocket):
        return int(sock.fileno())
    return None


def in_transaction(dbapi_connection: Any) -> bool:
    """Whether PyMySQL says a transaction is open; True when it cannot say."""
    if hasattr(dbapi_connection, "server_status"):
        return bool(dbapi_connection.server_status & SERVER_STATUS_IN_TRANS)
    return True


def server_error_is_transient(error: DBAPIError) -> bool:
    """Whether PyMySQL's error may heal, by the server's error number."""
    args: tuple[Any, ...] = getattr(error.orig, "args", ())
    return len(args) > 0 and args[0] in MYSQL_TRANSIENT_ERRORS

"""Which database errors heal if the task waits and tries again, decided by their code.

The exception class does not tell: SQLite and PyMySQL raise a missing table
and a lost connection alike as ``OperationalError``. To retry one more kind of
error, add its code to a set below; anything not listed fails at once.
"""

from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

# https://www.postgresql.org/docs/current/errcodes-appendix.html
POSTGRESQL_TRANSIENT_SQLSTATES = {
    "40001",  # serialization_failure
    "40P01",  # deadlock_detected
    "55P03",  # lock_not_available (lock_timeout)
    "53300",  # too_many_connections
    "57P01",  # admin_shutdown
    "57P02",  # crash_shutdown
    "57P03",  # cannot_connect_now (starting up, recovering)
}
# Class 08: connection exceptions (refused, lost, protocol failure).
POSTGRESQL_TRANSIENT_CLASSES = {"08"}

# https://mariadb.com/kb/en/mariadb-error-code-reference/
MYSQL_TRANSIENT_ERRORS = {
    1040,  # too many connections
    1053,  # server shutdown in progress
    1205,  # lock wait timeout exceeded
    1213,  # deadlock found when trying to get lock
    1927,  # connection was killed (MariaDB)
    2002,  # can't connect through the socket
    2003,  # can't connect to the server
    2006,  # server has gone away
    2013,  # lost connection during query
    4031,  # disconnected by the server for inactivity (MySQL 8)
}

# https://www.sqlite.org/rescode.html: SQLITE_BUSY, SQLITE_LOCKED ("database is locked").
SQLITE_TRANSIENT_CODES = {5, 6}


def is_transient(error: BaseException) -> bool:
    """True if ``error`` may heal by itself: the task should retry later."""
    if isinstance(error, (DisconnectionError, PoolTimeoutError)):
        return True
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    driver_error = error.orig
    if driver_error is None:
        return False
    if hasattr(driver_error, "sqlstate"):  # psycopg
        sqlstate: str | None = driver_error.sqlstate
        if sqlstate is None:
            # Not from the server: psycopg's own errors are about the connection.
            return isinstance(error, OperationalError)
        return (
            sqlstate in POSTGRESQL_TRANSIENT_SQLSTATES
            or sqlstate[:2] in POSTGRESQL_TRANSIENT_CLASSES
        )
    sqlite_code = getattr(driver_error, "sqlite_errorcode", None)
    if isinstance(sqlite_code, int):
        # The low byte is the primary code; extended codes add detail above it.
        return sqlite_code & 0xFF in SQLITE_TRANSIENT_CODES
    args = driver_error.args
    return len(args) > 0 and args[0] in MYSQL_TRANSIENT_ERRORS

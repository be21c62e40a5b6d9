"""Which database errors heal if the task waits and tries again, decided by their code.

The exception class does not tell: a driver may raise a missing table and a
lost connection alike as ``OperationalError``. To retry one more kind of error,
add its code to a set in ``sqlite.py`` or ``driver.py``; anything not listed
fails at once.
"""

from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from .driver import server_error_is_transient
from .sqlite import sqlite_error_is_transient


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
    sqlite_transient = sqlite_error_is_transient(driver_error)
    if sqlite_transient is not None:
        return sqlite_transient
    return server_error_is_transient(error)

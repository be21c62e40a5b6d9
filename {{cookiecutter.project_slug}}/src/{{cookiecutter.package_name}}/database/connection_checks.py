"""A connection checked as it leaves the pool, comes back, or fails mid-statement.

SQLAlchemy's own checks (``pool_pre_ping``, ROLLBACK on return) spend a round
trip each; these ask the socket and the driver instead (docs/design.md,
"Connections the server drops").
"""

import select
import ssl
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import ConnectionPoolEntry, PoolResetState

# PyMySQL's flag, from the server's last reply: the session has an open transaction.
SERVER_STATUS_IN_TRANS = 1


def plain_socket(dbapi_connection: Any) -> int | None:
    """The connection's socket; None over TLS or for a driver not known here."""
    # TLS 1.3 may deliver records nobody asked for, which would look like a
    # closed connection: those get a real ping.
    pgconn = getattr(dbapi_connection, "pgconn", None)  # psycopg 3
    if pgconn is not None:
        return None if pgconn.ssl_in_use else int(pgconn.socket)
    sock = getattr(dbapi_connection, "_sock", None)  # PyMySQL
    if sock is not None and not isinstance(sock, ssl.SSLSocket):
        return int(sock.fileno())
    return None


def has_something_to_read(fd: int) -> bool:
    """True if ``fd`` has data or end-of-file waiting; never blocks."""
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLPRI)
        return bool(poller.poll(0))
    return bool(select.select([fd], [], [], 0)[0])  # Windows: no poll()


def in_transaction(dbapi_connection: Any) -> bool:
    """Whether the driver says a transaction is open; True when it cannot say."""
    status = getattr(getattr(dbapi_connection, "info", None), "transaction_status", None)
    if status is not None:  # psycopg 3: IDLE, or INTRANS, INERROR, ACTIVE
        return bool(status.name != "IDLE")
    if hasattr(dbapi_connection, "server_status"):  # PyMySQL
        return bool(dbapi_connection.server_status & SERVER_STATUS_IN_TRANS)
    return bool(getattr(dbapi_connection, "in_transaction", True))  # sqlite3, or unknown


def discard_closed_connections(engine: Engine) -> None:
    """Replace a pooled connection the server has closed before anyone uses it.

    An idle connection has nothing to read unless the server hung up on it.
    """
    dialect = engine.dialect

    @event.listens_for(engine, "checkout")
    def _check(dbapi_connection: Any, _: ConnectionPoolEntry, __: Any) -> None:
        fd = plain_socket(dbapi_connection)
        if fd is None:
            try:
                alive = bool(dialect.do_ping(dbapi_connection))
            except Exception:
                alive = False
        else:
            alive = not has_something_to_read(fd)
        if not alive:
            # The pool's documented signal to discard it and hand out a fresh one.
            raise DisconnectionError("the server closed this pooled connection")


def roll_back_only_open_transactions(engine: Engine) -> None:
    """Take the place of the pool's reset (``pool_reset_on_return=None``)."""

    @event.listens_for(engine, "reset")
    def _reset(dbapi_connection: Any, _: ConnectionPoolEntry, state: PoolResetState) -> None:
        if state.transaction_was_reset or not state.asyncio_safe:
            return
        if in_transaction(dbapi_connection):
            dbapi_connection.rollback()


def discard_interrupted_connections(engine: Engine) -> None:
    """Invalidate a connection whose statement a foreign exception cut short.

    A soft time limit can stop the driver mid-reply; SQLAlchemy invalidates
    only on the driver's own disconnect errors, so the rest count as one here
    (this connection only, not the pool).
    """

    @event.listens_for(engine, "handle_error")
    def _discard(context: ExceptionContext) -> None:
        if isinstance(context.original_exception, context.dialect.loaded_dbapi.Error):
            return  # the driver's own error: it knows its state
        if context.execution_context is None and context.statement is not None:
            return  # failed while preparing parameters: nothing reached the server
        context.is_disconnect = True
        context.invalidate_pool_on_disconnect = False

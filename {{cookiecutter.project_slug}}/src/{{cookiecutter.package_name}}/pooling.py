"""What the pool does as a connection leaves it and comes back, without round trips.

SQLAlchemy's defaults spend a round trip at each end: ``pool_pre_ping`` sends
a query as a connection leaves the pool, and reset-on-return sends ROLLBACK as
it comes back, even when the transaction has already ended (PyMySQL sends it
every time; psycopg skips it when idle). Each end here asks the connection
first, for free.

Leaving: an idle pooled connection has nothing to read, since the server
speaks only when asked. A readable socket means the server closed it
(restart, failover, ``pg_terminate_backend``, ``KILL``, an idle timeout) or
sent its last error before closing; the pool replaces it before anyone uses
it. Looking costs one ``poll()`` system call. (redis-py checks its pooled
connections the same way before reusing them.) Limit: a server that vanished
without a word (a network partition, a host powered off) leaves nothing to
read; the first statement then fails and the task is retried like any
dropped connection.

Coming back: ROLLBACK only if the driver says a transaction is still open.
"""

import select
import ssl
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import ConnectionPoolEntry, PoolResetState

# PyMySQL's flag, from the server's last reply: the session has an open transaction.
SERVER_STATUS_IN_TRANS = 1


def plain_socket(dbapi_connection: Any) -> int | None:
    """The connection's socket, or None where looking at it could mislead.

    Over TLS the server may send records nobody asked for (TLS 1.3 session
    tickets), which would look like a closed connection; and a driver this
    module does not know is not guessed at. Those get a real ping.
    """
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
    if hasattr(dbapi_connection, "server_status"):  # PyMySQL: the server's last word
        return bool(dbapi_connection.server_status & SERVER_STATUS_IN_TRANS)
    return bool(getattr(dbapi_connection, "in_transaction", True))  # sqlite3, or unknown


def discard_closed_connections(server_engine: Engine) -> None:
    """Check each connection as it leaves the pool; replace it if the server closed it.

    Raising ``DisconnectionError`` from the pool's ``checkout`` event is
    SQLAlchemy's documented way to have the pool discard a connection and
    hand out a fresh one in its place.
    """
    dialect = server_engine.dialect

    @event.listens_for(server_engine, "checkout")
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
            raise DisconnectionError("the server closed this pooled connection")


def roll_back_only_open_transactions(any_engine: Engine) -> None:
    """Reset returned connections with ROLLBACK only when a transaction is open.

    The engine is created with ``pool_reset_on_return=None`` (``engine_options``
    in ``db.py``); this ``reset``
    listener takes the pool's place, as SQLAlchemy's docs show for custom
    resets. When the session has already ended the transaction (commit or
    rollback), the connection goes back with no round trip.
    """

    @event.listens_for(any_engine, "reset")
    def _reset(dbapi_connection: Any, _: ConnectionPoolEntry, state: PoolResetState) -> None:
        if state.transaction_was_reset or not state.asyncio_safe:
            return
        if in_transaction(dbapi_connection):
            dbapi_connection.rollback()

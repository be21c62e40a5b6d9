"""A connection checked as it leaves the pool, comes back, or fails mid-statement.

SQLAlchemy's own checks (``pool_pre_ping``, ROLLBACK on return) spend a round
trip each; these ask the socket and the driver instead (docs/guarantees.md,
"Connections the server drops").
"""

import select
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import ConnectionPoolEntry, PoolResetState

from .driver import in_transaction, plain_socket


def has_something_to_read(fd: int) -> bool:
    """True if ``fd`` has data or end-of-file waiting; never blocks."""
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLPRI)
        return bool(poller.poll(0))
    return bool(select.select([fd], [], [], 0)[0])  # Windows: no poll()


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

"""Run a callback after the session's transaction commits, or never.

A task sent inside a transaction can start before that transaction commits and
find nothing ("the task runs before the row exists"). Deferring the send
to the commit fixes that, and drops the task when the transaction rolls back.

Callbacks are kept per transaction. A savepoint (``begin_nested()``) that is
released hands its callbacks to the enclosing transaction; one rolled back
drops them. Only the outermost commit runs them.

Limit: the send happens after the commit, so a process that dies in between, or
a broker that is down then, loses the task (the failure is logged, the commit
stands). Use the outbox when that matters.
"""

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

logger = logging.getLogger(__name__)

_PENDING = "callbacks_after_commit"

Callback = Callable[[], Any]


def call_after_commit(session: Session, callback: Callback) -> None:
    """Call ``callback`` once ``session`` commits; at once if no transaction is open."""
    transaction = session.get_nested_transaction() or session.get_transaction()
    if transaction is None:
        callback()
        return
    _pending(session).setdefault(transaction, []).append(callback)


def _pending(session: Session) -> dict[SessionTransaction, list[Callback]]:
    pending: dict[SessionTransaction, list[Callback]] = session.info.setdefault(_PENDING, {})
    return pending


@event.listens_for(Session, "after_commit")
def _run_or_hand_up(session: Session) -> None:
    # While this event runs, the committing transaction is still the current one.
    transaction = session.get_nested_transaction() or session.get_transaction()
    if transaction is None:
        return
    callbacks = _pending(session).pop(transaction, [])
    if transaction.parent is not None:
        _pending(session).setdefault(transaction.parent, []).extend(callbacks)
        return
    for callback in callbacks:
        # The data is committed whatever happens here. An exception raised out of
        # this event would leave the session half-closed and skip the callbacks
        # after it, so each failure is logged instead.
        try:
            callback()
        except Exception:
            logger.exception("a callback after commit failed; the commit stands")


@event.listens_for(Session, "after_transaction_end")
def _drop_uncommitted(session: Session, transaction: SessionTransaction) -> None:
    # Whatever is still registered here was rolled back or closed, not committed.
    _pending(session).pop(transaction, None)

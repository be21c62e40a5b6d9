"""Run a callback after the session's transaction commits, or never.

A released savepoint hands its callbacks to the enclosing transaction; one
rolled back drops them. Only the outermost commit runs them.
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
        # Raised out of this event, an error would leave the session half-closed
        # and skip the callbacks after it; the commit stands either way.
        try:
            callback()
        except Exception:
            logger.exception("a callback after commit failed; the commit stands")


@event.listens_for(Session, "after_transaction_end")
def _drop_uncommitted(session: Session, transaction: SessionTransaction) -> None:
    # Whatever is still registered here was rolled back or closed, not committed.
    _pending(session).pop(transaction, None)

"""Signing up a user: the row and its task, for the caller's transaction."""

from celery.result import AsyncResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..models import User
from ..tasks import get_from_db


class EmailTaken(Exception):
    """Another user already has this email."""


def register_user(session: Session, name: str, email: str) -> tuple[User, AsyncResult]:  # type: ignore[type-arg]
    """Add the user, and ``get_from_db(user.id)`` to send once the caller commits.

    A duplicate email rolls back and raises ``EmailTaken``: no row, no task.
    The caller commits, so that its answer can be stored in the same
    transaction (an ``Idempotency-Key``'s, ``idempotency.py``).
    """
    user = User(name=name, email=email)
    session.add(user)
    try:
        session.flush()  # the INSERT runs now: it gives the id and meets the unique email
    except IntegrityError as error:
        session.rollback()
        raise EmailTaken(email) from error
    result = get_from_db.apply_async_on_commit((user.id,), session=session)
    return user, result

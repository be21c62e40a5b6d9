"""Signing up a user: the row and its task in one transaction."""

from celery.result import AsyncResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..models import User
from ..tasks import get_from_db


class EmailTaken(Exception):
    """Another user already has this email."""


def register_user(session: Session, name: str, email: str) -> tuple[User, AsyncResult]:  # type: ignore[type-arg]
    """Add the user, commit, and send ``get_from_db(user.id)`` once committed.

    A duplicate email rolls back and raises ``EmailTaken``: no row, no task.
    """
    user = User(name=name, email=email)
    session.add(user)
    try:
        session.flush()  # the INSERT runs now: it gives the id and meets the unique email
        result = get_from_db.apply_async_on_commit((user.id,), session=session)
        session.commit()
    except IntegrityError as error:
        session.rollback()
        raise EmailTaken(email) from error
    return user, result

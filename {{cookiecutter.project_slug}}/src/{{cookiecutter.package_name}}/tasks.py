"""The service's tasks. Pass ids, never ORM objects: a task loads the current row itself.

Tasks are acknowledged late, so each must be idempotent (docs/design.md), or
marked ``once=True`` to commit its writes once per message (docs/guarantees.md).
"""

from typing import TypedDict

from celery.utils.log import get_task_logger
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, NoResultFound

from .celery import app
from .db import db_session
from .models import User
from .worker.sqlalchemy_task import SqlAlchemyTask

__all__ = ["SqlAlchemyTask", "UserData", "create_user", "get_from_db"]

logger = get_task_logger(__name__)


class UserData(TypedDict):
    id: int
    name: str
    email: str


def require_positive_int(value: object, name: str) -> int:
    # bool is an int subclass; True is not a user id.
    if type(value) is not int or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


# read_only: one read needs no transaction (SqlAlchemyTask says when that holds).
@app.task(base=SqlAlchemyTask, bind=True, read_only=True)
def get_from_db(self: SqlAlchemyTask, user_id: int) -> UserData:
    """Return the user's data, waiting (by retrying) until the row exists."""
    user_id = require_positive_int(user_id, "user_id")
    user = db_session.get(User, user_id)
    if user is None:
        # Most likely the transaction that creates it has not committed yet.
        logger.info("user %s not found yet; retrying", user_id)
        raise self.retry(exc=NoResultFound(f"no user with id {user_id}"))
    return {"id": user.id, "name": user.name, "email": user.email}


@app.task(base=SqlAlchemyTask)
def create_user(name: str, email: str) -> int:
    """Insert a user and return its id; the same id if this very user exists.

    Run again after a commit whose answer was lost, it finds its own row by the
    unique email. A different user with that email fails with IntegrityError.
    """
    user = User(name=name, email=email)
    db_session.add(user)
    try:
        db_session.commit()
    except IntegrityError:
        db_session.rollback()
        existing = db_session.execute(select(User).where(User.email == email)).scalar_one_or_none()
        if existing is None or existing.name != name:
            raise
        return existing.id
    return user.id

"""Tasks, and the base class that gives each task attempt a clean session.

Pass ids, never ORM objects: an object pickled into a message is a stale copy
by the time the task runs, and JSON cannot carry it anyway. The task loads
the current row itself.
"""

import random
from typing import Any, TypedDict

from celery import Task
from celery.exceptions import Retry
from celery.result import AsyncResult
from celery.signals import worker_init, worker_process_init
from celery.utils import uuid
from celery.utils.log import get_task_logger
from sqlalchemy import select
from sqlalchemy.exc import DisconnectionError, NoResultFound, OperationalError

from .celery import app
from .config import settings
from .db import db_session, engine, wait_for_database
from .models import User
from .on_commit import call_after_commit
from .outbox import add_to_outbox

logger = get_task_logger(__name__)


@worker_init.connect
def check_database_before_consuming(**_: Any) -> None:
    """Wait for the database before taking tasks, and fail the start if it never answers.

    A wrong DATABASE_URL then stops the worker at once instead of failing
    every task. This runs in the prefork parent, so its connection stays in the
    pool that each child inherits: ``reset_pool_after_fork`` is what keeps the
    children from sharing it.
    """
    wait_for_database()


@worker_process_init.connect
def reset_pool_after_fork(**_: Any) -> None:
    """Give each prefork child a pool of its own.

    The child inherits the parent's pool; two processes using one socket
    garble the protocol ("ResourceClosedError: This result object does not
    return rows", "Commands out of sync"). ``close=False`` forgets the
    inherited connections without closing sockets the parent still owns.
    """
    engine.dispose(close=False)


def backoff_delay(retries: int) -> float:
    """Seconds to wait before retry number ``retries + 1``.

    Exponential backoff with "equal jitter": half the delay is fixed, half is
    random. The fixed half guarantees real waiting; the random half spreads
    out tasks that failed together so they do not retry in lockstep.
    """
    delay = min(settings.task_retry_backoff_max, settings.task_retry_delay * 2.0**retries)
    return delay / 2 + random.uniform(0, delay / 2)


class SqlAlchemyTask(Task):  # type: ignore[type-arg]
    """Base class for tasks that use ``db_session``.

    The session is removed after every attempt, however it ends, so no task
    inherits another's transaction, snapshot or failed state. Celery skips
    ``after_return`` for retries, so ``on_retry`` removes it too.

    Errors that may heal if we wait (the database dropped or refused the
    connection) are retried with backoff; anything else fails at once.
    """

    abstract = True
    max_retries = settings.task_max_retries
    autoretry_for = (OperationalError, DisconnectionError)

    def after_return(self, *args: Any, **kwargs: Any) -> None:
        db_session.remove()

    def on_retry(self, *args: Any, **kwargs: Any) -> None:
        db_session.remove()

    def retry(self, *args: Any, **kwargs: Any) -> Retry:
        """Retry after ``backoff_delay`` unless the caller set a delay.

        Celery's own ``retry_backoff`` takes whole seconds only; this accepts
        fractions (TASK_RETRY_DELAY=0.2). Once retries are used up, Celery
        raises the ``exc`` passed here.
        """
        if kwargs.get("countdown") is None and kwargs.get("eta") is None:
            kwargs["countdown"] = backoff_delay(self.request.retries)
        return super().retry(*args, **kwargs)

    def delay_on_commit(self, *args: Any, **kwargs: Any) -> AsyncResult:  # type: ignore[type-arg]
        """``delay()``, but only once ``db_session``'s transaction commits.

        Dropped if it rolls back; sent at once if no transaction is open.
        """
        return self.apply_async_on_commit(args, kwargs)

    def apply_async_on_commit(
        self,
        args: tuple[Any, ...] | None = None,
        kwargs: dict[str, Any] | None = None,
        **options: Any,
    ) -> AsyncResult:  # type: ignore[type-arg]
        """``apply_async()``, but only once ``db_session``'s transaction commits.

        The result is usable at once (its id is chosen now). If the
        transaction rolls back, the task is never sent and stays PENDING.
        """
        options.setdefault("task_id", uuid())
        call_after_commit(db_session(), lambda: self.apply_async(args, kwargs, **options))
        return self.AsyncResult(options["task_id"])

    def delay_via_outbox(self, *args: Any, **kwargs: Any) -> AsyncResult:  # type: ignore[type-arg]
        """Write the task to the outbox in ``db_session``'s transaction (see ``outbox``).

        It is sent by the relay once committed, even if the broker is down now.
        """
        return self.AsyncResult(add_to_outbox(db_session(), self.name, args, kwargs))


class UserData(TypedDict):
    id: int
    name: str
    email: str


def require_positive_int(value: object, name: str) -> int:
    # bool is an int subclass; True is not a user id.
    if type(value) is not int or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


@app.task(base=SqlAlchemyTask, bind=True)
def get_from_db(self: SqlAlchemyTask, user_id: int) -> UserData:
    """Return the user's data, waiting (by retrying) until the row exists."""
    user_id = require_positive_int(user_id, "user_id")
    try:
        user = db_session.execute(select(User).where(User.id == user_id)).scalar_one()
    except NoResultFound as exc:
        # Most likely the transaction that creates it has not committed yet.
        logger.info("user %s not found yet; retrying", user_id)
        raise self.retry(exc=exc) from exc
    return {"id": user.id, "name": user.name, "email": user.email}


@app.task(base=SqlAlchemyTask)
def create_user(name: str, email: str) -> int:
    """Insert a user and return its id. A duplicate email fails for good."""
    user = User(name=name, email=email)
    db_session.add(user)
    db_session.commit()
    return user.id

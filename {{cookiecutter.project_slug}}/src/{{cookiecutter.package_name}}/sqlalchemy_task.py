"""``SqlAlchemyTask``: the base class for tasks that use ``db_session``.

What every attempt needs whatever its base class (a session of its own, given
back however the attempt ends) is wired by the app, in ``celery.py``. This class
adds what a database task also wants: retrying errors that heal, with backoff,
and sending tasks only once the caller's transaction has committed.
"""

import random
from typing import Any

from celery import Task
from celery.exceptions import Retry
from celery.result import AsyncResult
from celery.utils import uuid
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, scoped_session

from .config import settings
from .db import db_session
from .on_commit import call_after_commit
from .outbox import add_to_outbox
from .transient_errors import is_transient


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

    A database error that may heal if we wait (a lost connection, a deadlock,
    a lock timeout; see ``transient_errors``) is retried with backoff, up to
    TASK_MAX_RETRIES times. Any other error fails the task at once.
    """

    abstract = True
    max_retries = settings.task_max_retries

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # Celery's autoretry_for matches exception classes, which cannot tell
        # a lost connection from a missing table; the error's code can.
        try:
            return super().__call__(*args, **kwargs)
        except SQLAlchemyError as error:
            if not is_transient(error):
                raise
            raise self.retry(exc=error) from error

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

        Dropped if it rolls back; sent at once if no transaction is open. For a
        session of your own, use ``apply_async_on_commit(..., session=...)``.
        """
        return self.apply_async_on_commit(args, kwargs)

    def apply_async_on_commit(
        self,
        args: tuple[Any, ...] | None = None,
        kwargs: dict[str, Any] | None = None,
        *,
        session: Session | scoped_session[Session] = db_session,
        **options: Any,
    ) -> AsyncResult:  # type: ignore[type-arg]
        """``apply_async()``, but only once ``session``'s transaction commits.

        ``session`` is the one holding the transaction that writes the task's
        data: ``db_session`` by default, or any ``Session`` (a web request's, a
        script's). The result is usable at once (its id is chosen now). If the
        transaction rolls back, the task is never sent and stays PENDING.
        """
        options.setdefault("task_id", uuid())
        call_after_commit(as_session(session), lambda: self.apply_async(args, kwargs, **options))
        return self.AsyncResult(options["task_id"])

    def delay_via_outbox(self, *args: Any, **kwargs: Any) -> AsyncResult:  # type: ignore[type-arg]
        """Write the task to the outbox in ``db_session``'s transaction (see ``outbox``).

        It is sent by the relay once committed, even if the broker is down now.
        For a session of your own, use ``apply_async_via_outbox(..., session=...)``.
        """
        return self.apply_async_via_outbox(args, kwargs)

    def apply_async_via_outbox(
        self,
        args: tuple[Any, ...] | None = None,
        kwargs: dict[str, Any] | None = None,
        *,
        session: Session | scoped_session[Session] = db_session,
        **options: Any,
    ) -> AsyncResult:  # type: ignore[type-arg]
        """Write the task to the outbox in ``session``'s transaction.

        ``options``: ``queue``, ``countdown``, ``expires``, ``priority``.
        """
        task_id = add_to_outbox(as_session(session), self.name, args or (), kwargs, **options)
        return self.AsyncResult(task_id)


def as_session(session: Session | scoped_session[Session]) -> Session:
    """The ``Session`` itself: a ``scoped_session`` stands for this thread's."""
    return session() if isinstance(session, scoped_session) else session

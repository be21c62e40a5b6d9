"""``SqlAlchemyTask``: retries what heals, and sends tasks only once a transaction commits.

The session handling every attempt needs, whatever its base class, is in
``lifecycle.py``.
"""

import random
from functools import partial
from typing import Any

from celery.exceptions import Retry
from celery.result import AsyncResult
from celery.utils import uuid
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, scoped_session

from ..config import settings
from ..database.after_commit import call_after_commit
from ..database.transient_errors import is_transient
from ..db import db_session, read_in_autocommit
from ..delivery.delivery_count import LimitedDeliveryTask
from ..outbox.writer import add_to_outbox
from .once import run_once


def backoff_delay(retries: int) -> float:
    """Seconds before retry ``retries + 1``: exponential, half fixed and half random."""
    delay = min(settings.task_retry_backoff_max, settings.task_retry_delay * 2.0**retries)
    return delay / 2 + random.uniform(0, delay / 2)


class SqlAlchemyTask(LimitedDeliveryTask):
    """Base class for tasks that use ``db_session``.

    A database error that may heal (``transient_errors``) is retried with
    backoff, up to TASK_MAX_RETRIES times; any other error fails at once.

    ``@app.task(base=SqlAlchemyTask, read_only=True)``: for a task that only
    reads. Where the database's driver saves a round trip by it
    (``read_without_transaction`` in ``database/driver.py``), the session's
    connection runs without BEGIN and ROLLBACK, so a single read costs one
    round trip, and goes back to the pool ready to begin transactions again.
    Its statements share no snapshot, and a write in it would commit on its
    own: a task whose reads must agree, or that writes, leaves the option off.

    ``@app.task(base=SqlAlchemyTask, once=True)``: for a task whose writes
    must commit once per message, however often it is delivered. Its body
    does not commit; when it returns, its writes commit with a record of the
    message and its JSON return value, and a delivery already recorded
    returns that value instead (``once.py``, docs/guarantees.md).
    """

    abstract = True
    max_retries = settings.task_max_retries
    read_only = False
    once = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Celery makes a class per task, with its options as attributes.
        super().__init_subclass__(**kwargs)
        if cls.once and cls.read_only:
            raise TypeError(f"{cls.__name__}: a once=True task writes its record; not read_only")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # Not autoretry_for: exception classes cannot tell a lost connection
        # from a missing table; the error's code can.
        try:
            if self.read_only:
                read_in_autocommit(db_session)
            if self.once:
                request = self.request
                return run_once(
                    db_session(),
                    self.name,
                    request.id,
                    bool((request.delivery_info or {}).get("redelivered")),
                    partial(super().__call__, *args, **kwargs),
                )
            return super().__call__(*args, **kwargs)
        except SQLAlchemyError as error:
            if not is_transient(error):
                raise
            raise self.retry(exc=error) from error

    def retry(self, *args: Any, **kwargs: Any) -> Retry:
        # Celery's retry_backoff takes whole seconds only; this allows fractions.
        if kwargs.get("countdown") is None and kwargs.get("eta") is None:
            kwargs["countdown"] = backoff_delay(self.request.retries)
        return super().retry(*args, **kwargs)

    def delay_on_commit(self, *args: Any, **kwargs: Any) -> AsyncResult:  # type: ignore[type-arg]
        """``delay()`` once ``db_session`` commits; dropped on rollback, at once outside one."""
        return self.apply_async_on_commit(args, kwargs)

    def apply_async_on_commit(
        self,
        args: tuple[Any, ...] | None = None,
        kwargs: dict[str, Any] | None = None,
        *,
        session: Session | scoped_session[Session] = db_session,
        **options: Any,
    ) -> AsyncResult:  # type: ignore[type-arg]
        """``apply_async()`` once ``session``, the one writing the task's data, commits."""
        options.setdefault("task_id", uuid())
        call_after_commit(as_session(session), lambda: self.apply_async(args, kwargs, **options))
        return self.AsyncResult(options["task_id"])

    def delay_via_outbox(self, *args: Any, **kwargs: Any) -> AsyncResult:  # type: ignore[type-arg]
        """Write the task to the outbox in ``db_session``'s transaction."""
        return self.apply_async_via_outbox(args, kwargs)

    def apply_async_via_outbox(
        self,
        args: tuple[Any, ...] | None = None,
        kwargs: dict[str, Any] | None = None,
        *,
        session: Session | scoped_session[Session] = db_session,
        **options: Any,
    ) -> AsyncResult:  # type: ignore[type-arg]
        """Write the task to the outbox in ``session``'s transaction (``add_to_outbox``)."""
        task_id = add_to_outbox(as_session(session), self.name, args or (), kwargs, **options)
        return self.AsyncResult(task_id)


def as_session(session: Session | scoped_session[Session]) -> Session:
    return session() if isinstance(session, scoped_session) else session

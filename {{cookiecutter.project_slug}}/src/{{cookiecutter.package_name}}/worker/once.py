"""``once=True``: a task's writes commit once per message, with a record of what it returned.

The body runs in ``db_session`` without committing. When it returns, its
writes and a ``TaskRecord`` (the task id, the return value as JSON) commit in
one transaction: the record is one more INSERT, flushed with the body's own
writes, and no SELECT comes first. A second delivery of the same message (a
process killed after its COMMIT, a retry after a lost answer, the relay
publishing twice) runs the body again, and its INSERT meets the first one's
key: it rolls back its writes, reads the record and returns that value. A
message the broker marks as delivered before reads the record first, and
skips the body when it is there: only then does a SELECT cost a round trip.
"""

import json
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import Row, event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .task_records import TaskRecord

logger = logging.getLogger(__name__)

# Set in session.info while a once task's body runs: its commits are refused.
RUNNING_BODY = "once_task_body"


class CommitInOnceTask(RuntimeError):
    """A ``once=True`` task's body called ``commit()``: its writes commit when it returns."""


def as_json(task_name: str, value: Any) -> Any:
    """The value as the record keeps it; a clear error, before anything commits, if it cannot."""
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"task {task_name} is marked once=True, so what it returns is recorded as JSON;"
            f" {type(value).__name__} {value!r:.200} is not: {error}"
        ) from error


def recorded(session: Session, task_id: str) -> Row[Any] | None:
    return session.execute(select(TaskRecord.value).where(TaskRecord.task_id == task_id)).first()


def run_once(
    session: Session,
    task_name: str,
    task_id: str | None,
    redelivered: bool,
    body: Callable[[], Any],
) -> Any:
    """Run ``body`` and commit its writes with the message's record, or return the recorded value.

    Called as a plain function, with no message (``task_id`` None), the body's
    writes commit with no record: there is no delivery to repeat.
    """
    if task_id is not None and redelivered and (row := recorded(session, task_id)) is not None:
        logger.info(
            "task %s[%s] committed on an earlier delivery: not run again", *(task_name, task_id)
        )
        return row.value
    session.info[RUNNING_BODY] = task_name
    try:
        value = body()
    finally:
        session.info.pop(RUNNING_BODY, None)
    if task_id is None:
        session.commit()
        return value
    session.add(TaskRecord(task_id=task_id, value=as_json(task_name, value)))
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        # The key held: another delivery committed first. Any other
        # constraint the body's writes broke is the body's error.
        if (row := recorded(session, task_id)) is None:
            raise
        logger.info(
            "task %s[%s] was committed by another delivery: its writes rolled back",
            task_name,
            task_id,
        )
        return row.value
    return value


@event.listens_for(Session, "before_commit")
def _refuse_commit_in_body(session: Session) -> None:
    # A savepoint may be released; the transaction commits after the body.
    if RUNNING_BODY in session.info and not session.in_nested_transaction():
        raise CommitInOnceTask(
            f"task {session.info[RUNNING_BODY]} is marked once=True: it must not commit;"
            " its writes commit, with its record, when it returns"
        )

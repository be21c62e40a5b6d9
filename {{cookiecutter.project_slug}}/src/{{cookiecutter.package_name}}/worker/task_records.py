"""The record of each message a ``once=True`` task has committed: its id, and what it returned.

Written in the task's own transaction (``once.py``), so the record and the
task's writes commit together or not at all; its primary key is what stops a
second delivery of the same message from committing again.
"""

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, DateTime, Engine, String, delete, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from ..models import Base

# Rows deleted per transaction: short enough that no purge holds locks long.
PURGE_BATCH = 1000


class TaskRecord(Base):
    __tablename__ = "task_records"

    # Celery's task id, which a redelivery and a retry keep.
    task_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    # What the task returned, as the result backend has it: JSON.
    value: Mapped[Any] = mapped_column(JSON, nullable=True)
    # The database's clock, which the purge reads too.
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )

    def __repr__(self) -> str:
        return f"TaskRecord(task_id={self.task_id!r})"


def purge_task_records(engine: Engine, retention: float, batch: int = PURGE_BATCH) -> int:
    """Delete records older than ``retention`` seconds, ``batch`` at a time; return how many.

    Each batch is read, then deleted by id in a transaction of its own: not
    every database can DELETE with a LIMIT, and short transactions keep every
    task's INSERT waiting little.
    """
    purged = 0
    while True:
        with Session(engine) as session:
            cutoff = session.execute(select(func.now())).scalar_one() - timedelta(seconds=retention)
            ids = session.scalars(
                select(TaskRecord.task_id).where(TaskRecord.created_at < cutoff).limit(batch)
            ).all()
        if not ids:
            return purged
        with Session(engine) as session, session.begin():
            session.execute(
                delete(TaskRecord)
                .where(TaskRecord.task_id.in_(ids))
                .execution_options(synchronize_session=False)
            )
        purged += len(ids)
        if len(ids) < batch:
            return purged

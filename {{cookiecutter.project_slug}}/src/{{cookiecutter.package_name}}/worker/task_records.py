"""The record of each message a ``once=True`` task has committed: its id, and what it returned.

Written in the task's own transaction (``once.py``), so the record and the
task's writes commit together or not at all; its primary key is what stops a
second delivery of the same message from committing again.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Engine, String, func
from sqlalchemy.orm import Mapped, mapped_column

from ..database.purging import PURGE_BATCH, purge_older_than
from ..models import Base


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
    """Delete records older than ``retention`` seconds, ``batch`` at a time; return how many."""
    return purge_older_than(engine, TaskRecord.task_id, TaskRecord.created_at, retention, batch)

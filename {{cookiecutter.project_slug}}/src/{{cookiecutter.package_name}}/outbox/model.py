"""The outbox table: one row per task to send, written with the data it is about."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Index, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from ..models import Base


class OutboxMessage(Base):
    """Unsent while neither ``sent_at`` nor ``dead_at`` is set."""

    __tablename__ = "outbox_messages"
    # Serves the relay's "unsent, by id" and the purge's "sent_at < cutoff", in
    # order. A plain index, which every database the service runs on can build.
    __table_args__ = (Index("ix_outbox_messages_unsent", "sent_at", "dead_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Chosen when the row is added, so a message published twice (a relay that
    # crashed before recording the send) keeps its Celery id.
    task_id: Mapped[str] = mapped_column(String(36), unique=True)
    task_name: Mapped[str] = mapped_column(String(255))
    args: Mapped[list[Any]] = mapped_column(JSON)
    kwargs: Mapped[dict[str, Any]] = mapped_column(JSON)
    options: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    dead_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The writer's span as W3C trace context headers: the task joins its trace.
    trace_context: Mapped[dict[str, str] | None] = mapped_column(JSON)

    def __repr__(self) -> str:
        return f"OutboxMessage(id={self.id!r}, task={self.task_name}[{self.task_id}])"


UNSENT = (OutboxMessage.sent_at.is_(None), OutboxMessage.dead_at.is_(None))

"""ORM models. Alembic's migrations/env.py reads ``Base.metadata`` from here."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Index, MetaData, String, Text, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Named constraints can be dropped and altered by later migrations on every
# database; unnamed ones get server-chosen names that differ between servers.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(255), unique=True)

    def __repr__(self) -> str:
        return f"User(id={self.id!r}, email={self.email!r})"


class OutboxMessage(Base):
    """A task to send, written in the same transaction as the data it is about.

    The relay (``outbox.relay``) publishes the rows with neither ``sent_at``
    nor ``dead_at`` set, oldest first, each under its own ``task_id``, then sets
    ``sent_at``. A row the broker refuses counts an attempt and keeps the error;
    after OUTBOX_MAX_ATTEMPTS it gets ``dead_at`` and is no longer tried.
    """

    __tablename__ = "outbox_messages"
    # The relay asks for "sent_at IS NULL AND dead_at IS NULL ORDER BY id", and
    # the retention purge for "sent_at < cutoff": one index serves both, in
    # order. A partial index would be smaller, but MySQL/MariaDB lack them.
    __table_args__ = (Index("ix_outbox_messages_unsent", "sent_at", "dead_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Chosen when the row is added, so every publish of it (a relay that crashed
    # before recording the send publishes again) carries the same Celery id.
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

    def __repr__(self) -> str:
        return f"OutboxMessage(id={self.id!r}, task={self.task_name}[{self.task_id}])"

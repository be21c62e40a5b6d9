"""The ``idempotency_keys`` table: each POST's key, its request and, once committed, its answer.

The web API writes it (``web/idempotency.py``); the relay purges it, as it
purges sent outbox messages, in its housekeeping (``PURGES`` in ``relay.py``).
"""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Engine, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column

from .database.purging import purge_older_than
from .models import Base


class IdempotencyKey(Base):
    """In progress while ``status`` is NULL; ``owner`` names the request that holds it."""

    __tablename__ = "idempotency_keys"
    # Serves the purge's "created_at < cutoff".
    __table_args__ = (Index("ix_idempotency_keys_created_at", "created_at"),)

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    # sha256 of the method, path and body: a key reused for another request is refused.
    fingerprint: Mapped[str] = mapped_column(String(64))
    owner: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # When ``owner`` claimed it: a claim older than IDEMPOTENCY_KEY_LEASE was abandoned.
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    status: Mapped[int | None]
    body: Mapped[Any] = mapped_column(JSON, nullable=True)

    def __repr__(self) -> str:
        return f"IdempotencyKey(key={self.key!r}, status={self.status!r})"


def purge_idempotency_keys(engine: Engine, retention: float) -> int:
    """Delete keys created more than ``retention`` seconds ago, in batches; return how many."""
    return purge_older_than(engine, IdempotencyKey.key, IdempotencyKey.created_at, retention)

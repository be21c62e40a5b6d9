"""What an operator asks of the outbox: its status, the dead letters, a revival."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ..db import engine
from .model import UNSENT, OutboxMessage


def database_now(session: Session) -> datetime:
    """The database's clock: every time in the table comes from it."""
    now: datetime = session.execute(select(func.now())).scalar_one()
    return now


@dataclass
class Status:
    unsent: int
    dead: int
    oldest_unsent_age: float | None

    def stuck(self, alert_after: float) -> bool:
        return self.oldest_unsent_age is not None and self.oldest_unsent_age > alert_after

    def __str__(self) -> str:
        age = "-" if self.oldest_unsent_age is None else f"{self.oldest_unsent_age:.1f}s"
        return f"unsent {self.unsent}, dead {self.dead}, oldest unsent {age}"


def outbox_status() -> Status:
    with Session(engine) as session:
        unsent, oldest = session.execute(
            select(func.count(), func.min(OutboxMessage.created_at)).where(*UNSENT)
        ).one()
        dead = session.execute(
            select(func.count()).where(OutboxMessage.dead_at.is_not(None))
        ).scalar_one()
        age = None if oldest is None else (database_now(session) - oldest).total_seconds()
    return Status(int(unsent), int(dead), age)


def dead_letters() -> list[OutboxMessage]:
    with Session(engine, expire_on_commit=False) as session:
        query = select(OutboxMessage).where(OutboxMessage.dead_at.is_not(None))
        return list(session.scalars(query.order_by(OutboxMessage.id)))


def revive(message_ids: Sequence[int]) -> int:
    """Give dead letters a fresh set of attempts; return how many there were."""
    with Session(engine) as session, session.begin():
        revived = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(message_ids), OutboxMessage.dead_at.is_not(None))
            .values(dead_at=None, attempts=0)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(revived, "rowcount", 0) or 0)


def describe(message: OutboxMessage) -> dict[str, Any]:
    return {
        "id": message.id,
        "task": f"{message.task_name}[{message.task_id}]",
        "attempts": message.attempts,
        "dead_at": message.dead_at,
        "last_error": message.last_error,
    }

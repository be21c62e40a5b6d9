"""The relay: publish committed outbox messages until the broker has them.

Each batch, in one transaction: lock up to 100 unsent messages, oldest first,
publish each, and record what happened to it. "Sent" means the broker has the
message: on RabbitMQ the relay waits for the publisher confirm, on Redis for
the command's reply. A message the broker refuses (or Celery cannot encode)
counts an attempt and keeps its error, and the batch goes on with the next
one; after OUTBOX_MAX_ATTEMPTS it becomes a dead letter, logged and listed by
``outbox dead``. A broker or database that is down ends the batch: what was
sent is recorded, the rest waits for the next pass.

Sent messages are deleted once older than OUTBOX_RETENTION, and the relay
warns when the oldest unsent message is older than OUTBOX_ALERT_AFTER.
"""

import logging
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import FrameType
from typing import Any

from amqp.exceptions import MessageNacked
from kombu import Connection, Producer
from kombu.exceptions import OperationalError as BrokerUnavailable
from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from ..celery import app
from ..config import settings
from ..db import engine
from ..models import OutboxMessage

logger = logging.getLogger(__name__)

BATCH_SIZE = 100

# For connecting and for each publish: a few quick attempts, then give up. A
# message the broker refuses stays in the outbox for the next pass, so waiting
# longer here gains nothing (kombu's defaults keep trying for seconds).
PUBLISH_RETRY_POLICY: dict[str, Any] = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}

# Under MySQL/MariaDB's default REPEATABLE READ, the relay's locking read also
# locks the gap after the last unsent row, which would block every transaction
# adding a message until the relay commits. READ COMMITTED locks rows only.
# On SQLite, BEGIN IMMEDIATE takes the write lock before the relay reads: a
# deferred transaction that reads first cannot upgrade to write while the
# application writes ("database is locked"), and would publish its batch again.
RELAY_EXECUTION_OPTIONS = {
    "mysql": {"isolation_level": "READ COMMITTED"},
    "mariadb": {"isolation_level": "READ COMMITTED"},
    "sqlite": {"sqlite_begin": "IMMEDIATE"},
}
relay_engine = engine.execution_options(**RELAY_EXECUTION_OPTIONS.get(engine.dialect.name, {}))

UNSENT = (OutboxMessage.sent_at.is_(None), OutboxMessage.dead_at.is_(None))


@dataclass
class Batch:
    sent: int = 0
    failed: int = 0
    dead: int = 0


@contextmanager
def broker_connection() -> Iterator[Connection]:
    """A connection of its own, with publisher confirms on AMQP."""
    # Only py-amqp knows confirm_publish; the Redis transport's reply already
    # says the message is stored, and the SQLite transport rejects the option.
    url = settings.celery_broker_url
    options = {"confirm_publish": True} if url.startswith(("amqp://", "amqps://")) else {}
    connection: Connection = app.connection_for_write(transport_options=options)
    with connection:
        connection.ensure_connection(**PUBLISH_RETRY_POLICY)
        yield connection


def publish(producer: Producer, message: OutboxMessage) -> None:
    app.send_task(
        message.task_name,
        message.args,
        message.kwargs,
        task_id=message.task_id,
        producer=producer,
        **{**message.options, "retry": True, "retry_policy": PUBLISH_RETRY_POLICY},
    )


def record_failure(message: OutboxMessage, error: Exception, now: datetime, batch: Batch) -> None:
    message.attempts += 1
    cause = error.__cause__ or error  # kombu wraps the broker's own reason
    message.last_error = f"{type(cause).__name__}: {cause}"[:2000]
    batch.failed += 1
    if message.attempts >= settings.outbox_max_attempts:
        message.dead_at = now
        batch.dead += 1
        logger.error(
            "outbox message %s (%s[%s]) is a dead letter after %d attempts: %s",
            message.id,
            message.task_name,
            message.task_id,
            message.attempts,
            message.last_error,
        )
    else:
        logger.warning(
            "could not publish outbox message %s (attempt %d): %s",
            message.id,
            message.attempts,
            message.last_error,
        )


def publish_all(
    messages: Sequence[OutboxMessage], now: datetime, batch: Batch
) -> BaseException | None:
    """Publish ``messages`` in order, recording each outcome on its row.

    Returns the error that stopped it if the broker stopped answering.
    """
    with broker_connection() as connection:
        producer = connection.Producer()
        broker_down: tuple[type[BaseException], ...] = (
            BrokerUnavailable,
            *connection.connection_errors,
        )
        for message in messages:
            try:
                publish(producer, message)
            except Exception as error:
                # RabbitMQ's nack refuses this message (a full queue, say); kombu
                # reports it like a lost connection, but the broker is up.
                refused = isinstance(error.__cause__, MessageNacked)
                if isinstance(error, broker_down) and not refused:
                    return error  # the broker is down: the rest waits for the next pass
                record_failure(message, error, now, batch)
                # A refused message may have closed the channel; use a fresh one.
                producer.revive(connection.channel())
            else:
                message.sent_at = now
                batch.sent += 1
    return None


# Oldest first. Among unsent rows sent_at and dead_at are both NULL, so the
# index's own column order is id order. PostgreSQL needs it spelled that way to
# read the index without sorting (it does not treat IS NULL as fixing a
# column); MySQL/MariaDB sort unless asked for id alone.
OLDEST_FIRST = (
    (OutboxMessage.id,)
    if engine.dialect.name in ("mysql", "mariadb")
    else (OutboxMessage.sent_at, OutboxMessage.dead_at, OutboxMessage.id)
)


def unsent_oldest_first(limit: int) -> Select[Any]:
    """The relay's query, answered by ``ix_outbox_messages_unsent`` in index order."""
    # SKIP LOCKED leaves the rows another relay is publishing to that relay:
    # two relays never send the same row, and neither waits for the other.
    return (
        select(OutboxMessage)
        .where(*UNSENT)
        .order_by(*OLDEST_FIRST)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


def relay_batch(limit: int = BATCH_SIZE) -> Batch:
    """Publish up to ``limit`` unsent messages, oldest first, and record the outcome.

    The rows stay locked until the commit that records them. If the broker
    stops answering, what was sent before is committed and ``BrokerUnavailable``
    is raised.
    """
    batch = Batch()
    with Session(relay_engine) as session:
        messages = session.scalars(unsent_oldest_first(limit)).all()
        if not messages:
            # Closing rolls back: no broker connection, and no commit to wait
            # for (on SQLite, a commit would wait for every reader).
            return batch
        broker_down = publish_all(messages, database_now(session), batch)
        # What was sent, and every failed attempt, goes on record.
        session.commit()
    if broker_down is not None:
        raise broker_down
    return batch


def database_now(session: Session) -> datetime:
    """The database's clock: every time in the table comes from it."""
    now: datetime = session.execute(select(func.now())).scalar_one()
    return now


def purge_sent(retention: float) -> int:
    """Delete messages sent more than ``retention`` seconds ago; return how many."""
    with Session(relay_engine) as session, session.begin():
        cutoff = database_now(session) - timedelta(seconds=retention)
        purged = session.execute(
            delete(OutboxMessage)
            .where(OutboxMessage.sent_at < cutoff)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(purged, "rowcount", 0) or 0)


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


class Relay:
    """The relay loop: a pass every ``every`` seconds until SIGTERM or SIGINT.

    A signal lets the batch being published finish and be recorded, then the
    loop ends: nothing is published twice because the relay was stopped.
    """

    def __init__(self, every: float) -> None:
        self.every = every
        self.stopping = threading.Event()
        self.failing = False
        self.last_alert = 0.0

    def stop(self, signum: int, _: FrameType | None) -> None:
        logger.info("%s: stopping after this batch", signal.Signals(signum).name)
        self.stopping.set()

    def run(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self.stop)
        while not self.stopping.is_set():
            self.one_pass()
            self.stopping.wait(self.every)
        logger.info("relay stopped")

    def one_pass(self) -> None:
        try:
            sent = 0
            while not self.stopping.is_set():
                batch = relay_batch()
                sent += batch.sent
                if batch.sent + batch.failed < BATCH_SIZE:
                    break
            purge_sent(settings.outbox_retention)
            self.warn_if_stuck()
        except (BrokerUnavailable, DBAPIError) as error:
            # Both heal when the server is back; the messages wait meanwhile.
            # One line per outage, not one per pass.
            if not self.failing:
                logger.warning("cannot relay, trying again every %ss: %s", self.every, error)
            self.failing = True
            return
        if self.failing:
            logger.info("relaying again")
        self.failing = False
        if sent:
            logger.info("sent %d message(s)", sent)

    def warn_if_stuck(self) -> None:
        # At most once a minute: a stuck outbox stays stuck for a while.
        if time.monotonic() - self.last_alert < 60:
            return
        status = outbox_status()
        if status.stuck(settings.outbox_alert_after):
            logger.warning(
                "the outbox is falling behind (%s); alert after %gs",
                status,
                settings.outbox_alert_after,
            )
            self.last_alert = time.monotonic()


def relay_once() -> int:
    """One pass for ``--once``: the exit status is 1 if the broker is down."""
    sent = 0
    try:
        while True:
            batch = relay_batch()
            sent += batch.sent
            if batch.sent + batch.failed < BATCH_SIZE:
                break
    except BrokerUnavailable as error:
        # One clear line: the traceback would only show kombu's retry machinery.
        logger.error(
            "broker unreachable, %d message(s) stay in the outbox: %s",
            outbox_status().unsent,
            error,
        )
        return 1
    purge_sent(settings.outbox_retention)
    logger.info("sent %d message(s)", sent)
    return 0


def describe(message: OutboxMessage) -> dict[str, Any]:
    return {
        "id": message.id,
        "task": f"{message.task_name}[{message.task_id}]",
        "attempts": message.attempts,
        "dead_at": message.dead_at,
        "last_error": message.last_error,
    }

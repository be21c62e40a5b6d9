"""The relay: publish committed outbox messages, oldest first, until the broker has them.

Each batch, in one transaction, locks up to BATCH_SIZE unsent rows, publishes
each and records its outcome. A message the broker refuses counts an attempt
(a dead letter after OUTBOX_MAX_ATTEMPTS) and the batch goes on; a broker or
database that is down ends the batch, and the rest waits for the next pass.
"""

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import FrameType
from typing import Any

from amqp.exceptions import MessageNacked
from kombu import Connection, Producer
from kombu.exceptions import OperationalError as BrokerUnavailable
from sqlalchemy import Select, delete, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from ..celery import app
from ..config import settings
from ..db import engine
from .commands import database_now, outbox_status
from .model import UNSENT, OutboxMessage

logger = logging.getLogger(__name__)

BATCH_SIZE = 100

# A few quick attempts, then give up: a refused message waits for the next
# pass anyway (kombu's defaults keep trying for seconds).
PUBLISH_RETRY_POLICY: dict[str, Any] = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}

# MySQL/MariaDB: REPEATABLE READ would lock the gap after the last unsent row
# and block every writer of a new message until the relay commits. SQLite:
# BEGIN IMMEDIATE takes the write lock before reading; a deferred transaction
# could not upgrade while the application writes, and would publish again.
RELAY_EXECUTION_OPTIONS = {
    "mysql": {"isolation_level": "READ COMMITTED"},
    "mariadb": {"isolation_level": "READ COMMITTED"},
    "sqlite": {"sqlite_begin": "IMMEDIATE"},
}
relay_engine = engine.execution_options(**RELAY_EXECUTION_OPTIONS.get(engine.dialect.name, {}))

# Among unsent rows sent_at and dead_at are NULL, so index order is id order;
# PostgreSQL reads the index without sorting only when told all three,
# MySQL/MariaDB only when told id alone.
OLDEST_FIRST = (
    (OutboxMessage.id,)
    if engine.dialect.name in ("mysql", "mariadb")
    else (OutboxMessage.sent_at, OutboxMessage.dead_at, OutboxMessage.id)
)


@dataclass
class Batch:
    sent: int = 0
    failed: int = 0
    dead: int = 0


@contextmanager
def broker_connection() -> Iterator[Connection]:
    """A connection of its own; on RabbitMQ, with the app's publisher confirms."""
    connection: Connection = app.connection_for_write()
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
    if message.attempts < settings.outbox_max_attempts:
        logger.warning(
            "could not publish outbox message %s (attempt %d): %s",
            message.id,
            message.attempts,
            message.last_error,
        )
        return
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


def publish_all(
    messages: Sequence[OutboxMessage], now: datetime, batch: Batch
) -> BaseException | None:
    """Publish in order, recording each outcome; return the error if the broker went down."""
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
                # RabbitMQ's nack (a full queue, say) comes as a connection
                # error, but the broker is up: only this message failed.
                refused = isinstance(error.__cause__, MessageNacked)
                if isinstance(error, broker_down) and not refused:
                    return error
                record_failure(message, error, now, batch)
                # A refused message may have closed the channel.
                producer.revive(connection.channel())
            else:
                message.sent_at = now
                batch.sent += 1
    return None


def unsent_oldest_first(limit: int) -> Select[Any]:
    """The relay's query, answered by ``ix_outbox_messages_unsent`` in index order."""
    # SKIP LOCKED: two relays never send the same row, and neither waits.
    return (
        select(OutboxMessage)
        .where(*UNSENT)
        .order_by(*OLDEST_FIRST)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


def relay_batch(limit: int = BATCH_SIZE) -> Batch:
    """Publish up to ``limit`` unsent messages and record the outcome.

    If the broker stops answering, what was sent is committed, then
    ``BrokerUnavailable`` is raised.
    """
    batch = Batch()
    with Session(relay_engine) as session:
        messages = session.scalars(unsent_oldest_first(limit)).all()
        if not messages:
            # Roll back: a commit would wait for every reader on SQLite.
            return batch
        broker_down = publish_all(messages, database_now(session), batch)
        session.commit()
    if broker_down is not None:
        raise broker_down
    return batch


def relay_pending(stopping: Callable[[], bool] = lambda: False) -> int:
    """Relay batches until the outbox is drained or ``stopping()``; return how many were sent."""
    sent = 0
    while not stopping():
        batch = relay_batch()
        sent += batch.sent
        if batch.sent + batch.failed < BATCH_SIZE:
            break
    return sent


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


class Relay:
    """A pass every ``every`` seconds until SIGTERM or SIGINT, which let the batch finish."""

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
            sent = relay_pending(self.stopping.is_set)
            purge_sent(settings.outbox_retention)
            self.warn_if_stuck()
        except (BrokerUnavailable, DBAPIError) as error:
            # Both heal when the server is back. One line per outage.
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
        if time.monotonic() - self.last_alert < 60:  # at most once a minute
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
    try:
        sent = relay_pending()
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

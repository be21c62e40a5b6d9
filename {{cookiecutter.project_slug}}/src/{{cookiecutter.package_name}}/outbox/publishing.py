"""The relay's batch: publish committed outbox messages, oldest first, until the broker has them.

Each batch, in one transaction, locks up to BATCH_SIZE unsent rows, publishes
them all (``delivery.batch_publish``: the broker's way to publish a whole
batch at once) and records each outcome. A message that fails counts an
attempt (a dead letter after OUTBOX_MAX_ATTEMPTS) and the batch goes on; a
broker or database that is down ends the batch, which stays unsent.
"""

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from celery import Celery
from kombu import Producer, Queue
from sqlalchemy import Row, Select, delete, select, update
from sqlalchemy.orm import Session

from ..config import settings
from ..database import driver
from ..db import engine
from ..delivery.batch_publish import batch_connection, publish_batch
from ..telemetry.tracing import within_trace
from .commands import database_now
from .model import UNSENT, OutboxMessage

logger = logging.getLogger(__name__)

# Large enough that a batch's fixed costs (a transaction, a pipeline or a
# confirm round trip) vanish per message; small enough that a relay that
# dies mid-batch publishes no more than this again.
BATCH_SIZE = 1000

# The server's isolation for the relay's transaction (database/driver.py). SQLite:
# BEGIN IMMEDIATE takes the write lock before reading; a deferred transaction
# could not upgrade while the application writes, and would publish again.
relay_engine = engine.execution_options(
    **(
        {"sqlite_begin": "IMMEDIATE"}
        if engine.dialect.name == "sqlite"
        else driver.RELAY_EXECUTION_OPTIONS
    )
)

# Among unsent rows sent_at and dead_at are NULL, so index order is id order;
# which columns let the database read the index without sorting depends on it
# (database/driver.py).
OLDEST_FIRST = (
    (OutboxMessage.sent_at, OutboxMessage.dead_at, OutboxMessage.id)
    if engine.dialect.name == "sqlite" or driver.ORDER_BY_EVERY_INDEX_COLUMN
    else (OutboxMessage.id,)
)

# What the quick path publishes; any other option (countdown, expires) goes
# through app.send_task, which turns it into the broker's own delayed delivery.
QUICK_OPTIONS = frozenset({"queue", "priority"})
# As long as Celery's own argsrepr and kwargsrepr.
REPR_MAX = 1024


@dataclass
class Batch:
    sent: int = 0
    failed: int = 0
    dead: int = 0


def unsent_oldest_first(limit: int) -> Select[Any]:
    """The relay's query, answered by ``ix_outbox_messages_unsent`` in index order."""
    # SKIP LOCKED: two relays never send the same row, and neither waits.
    return (
        select(
            OutboxMessage.id,
            OutboxMessage.task_id,
            OutboxMessage.task_name,
            OutboxMessage.args,
            OutboxMessage.kwargs,
            OutboxMessage.options,
            OutboxMessage.attempts,
            OutboxMessage.trace_context,
        )
        .where(*UNSENT)
        .order_by(*OLDEST_FIRST)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


class TaskPublisher:
    """Publishes outbox messages as ``app.send_task`` would, with the same task ids.

    Most messages take the quick path: Celery's own message, routed by the
    app's routes, without what send_task adds for a caller that waits for the
    result (a subscription to it, where the result backend has them), and with
    each queue declared once, not once a message.
    """

    def __init__(self, app: Celery) -> None:
        self.app = app
        self.declared: set[str] = set()

    def publish(self, producer: Producer, message: Row[Any]) -> None:
        # In the trace of the transaction that wrote it, or in none: each
        # message's publish span, if tracing is on, is its own.
        with within_trace(message.trace_context or {}):
            self.send(producer, message)

    def send(self, producer: Producer, message: Row[Any]) -> None:
        app = self.app
        if not QUICK_OPTIONS.issuperset(message.options):
            app.send_task(
                message.task_name,
                message.args,
                message.kwargs,
                task_id=message.task_id,
                producer=producer,
                retry=False,
                **message.options,
            )
            return
        options = app.amqp.router.route(
            dict(message.options), message.task_name, message.args, message.kwargs
        )
        self.declare(producer, options.get("queue"))
        task_message = app.amqp.create_task_message(
            message.task_id,
            message.task_name,
            message.args,
            message.kwargs,
            reply_to=app.thread_oid,
            # JSON values have no repr that fails or never ends, which is
            # what Celery's saferepr guards against at many times the cost.
            argsrepr=repr(message.args)[:REPR_MAX],
            kwargsrepr=repr(message.kwargs)[:REPR_MAX],
            **options,
        )
        app.amqp.send_task_message(
            producer, message.task_name, task_message, retry=False, declare=[], **options
        )

    def declare(self, producer: Producer, queue: object) -> None:
        if isinstance(queue, Queue) and queue.name not in self.declared:
            producer.maybe_declare(queue)
            self.declared.add(queue.name)


def record_failure(
    session: Session, message: Row[Any], error: Exception, now: datetime, batch: Batch
) -> None:
    attempts = message.attempts + 1
    cause = error.__cause__ or error  # kombu wraps the broker's own reason
    last_error = f"{type(cause).__name__}: {cause}"[:2000]
    dead = attempts >= settings.outbox_max_attempts
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message.id)
        .values(attempts=attempts, last_error=last_error, dead_at=now if dead else None)
    )
    batch.failed += 1
    if not dead:
        logger.warning(
            "could not publish outbox message %s (attempt %d): %s",
            message.id,
            attempts,
            last_error,
        )
        return
    batch.dead += 1
    # In the writer's trace, as its publish was: the line and its error report lead there.
    with within_trace(message.trace_context or {}):
        logger.error(
            "outbox message %s (%s[%s]) is a dead letter after %d attempts: %s",
            message.id,
            message.task_name,
            message.task_id,
            attempts,
            last_error,
        )


def record_sent(session: Session, messages: Sequence[Row[Any]], now: datetime) -> None:
    if messages:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_([message.id for message in messages]))
            .values(sent_at=now)
        )


def relay_batch(app: Celery, limit: int = BATCH_SIZE) -> Batch:
    """Publish up to ``limit`` unsent messages to ``app``'s broker and record the outcome.

    If the broker cannot say what it took, nothing of the batch is recorded
    and ``BrokerUnavailable`` is raised.
    """
    batch = Batch()
    with Session(relay_engine) as session:
        messages = session.execute(unsent_oldest_first(limit)).all()
        if not messages:
            # Roll back: a commit would wait for every reader on SQLite.
            return batch
        with batch_connection(app) as connection:
            failed = publish_batch(connection, messages, TaskPublisher(app).publish)
        now = database_now(session)
        for position, error in failed.items():
            record_failure(session, messages[position], error, now, batch)
        sent = [message for position, message in enumerate(messages) if position not in failed]
        record_sent(session, sent, now)
        batch.sent = len(sent)
        session.commit()
    return batch


def relay_pending(app: Celery, stopping: Callable[[], bool] = lambda: False) -> int:
    """Relay batches until the outbox is drained or ``stopping()``; return how many were sent."""
    sent = 0
    while not stopping():
        batch = relay_batch(app)
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

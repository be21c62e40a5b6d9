"""Work waiting to be done, read from the broker and the database at each scrape.

Served by the web API and the relay, which run while no worker does: the
queue's length is there to read when it matters most.
"""

import logging
from collections.abc import Iterator
from typing import Any

from kombu import Connection
from sqlalchemy.exc import SQLAlchemyError

from ..celery import app
from ..config import settings
from ..delivery.broker import dead_queue
from ..outbox.commands import outbox_status
from .metrics import Collector, GaugeMetricFamily

logger = logging.getLogger(__name__)

# Seconds a scrape waits for the broker before leaving the queue lengths out.
BROKER_TIMEOUT = 3


def queue_length(connection: Connection, queue: str) -> int:
    channel: Any
    with connection.channel() as channel:
        try:
            return int(channel.queue_declare(queue=queue, passive=True).message_count)
        except connection.channel_errors:
            # Not declared yet, or empty and so deleted by the broker.
            return 0


class WaitingWork(Collector):
    """The service queue's and the dead-task queue's lengths, and the outbox's state."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield from self.queues()
        yield from self.outbox()

    def queues(self) -> Iterator[GaugeMetricFamily]:
        lengths = GaugeMetricFamily(
            "celery_queue_length", "Messages waiting in the queue, not yet taken", labels=["queue"]
        )
        names = (settings.celery_queue, dead_queue(settings.celery_queue).name)
        try:
            with app.connection_for_read() as connection:
                connection.ensure_connection(max_retries=0, timeout=BROKER_TIMEOUT)
                for name in names:
                    lengths.add_metric([name], queue_length(connection, name))
        except Exception:
            logger.warning("metrics: the broker did not answer", exc_info=True)
            return
        yield lengths

    def outbox(self) -> Iterator[GaugeMetricFamily]:
        try:
            status = outbox_status()
        except SQLAlchemyError:
            logger.warning("metrics: the database did not answer", exc_info=True)
            return
        yield GaugeMetricFamily(
            "outbox_unsent_messages", "Outbox messages not yet published", value=status.unsent
        )
        yield GaugeMetricFamily(
            "outbox_oldest_unsent_age_seconds",
            "Age of the oldest unsent outbox message; 0 when none waits",
            value=status.oldest_unsent_age or 0.0,
        )
        yield GaugeMetricFamily(
            "outbox_dead_messages", "Outbox messages given up on (outbox dead)", value=status.dead
        )

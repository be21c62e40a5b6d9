"""The queue's and the dead-task queue's lengths, read from the broker at each scrape.

Served by the web API and the relay, which run while no worker does: the
queue's length is there to read when it matters most.
"""

import logging
from collections.abc import Iterator
from typing import Any

from celery import Celery
from kombu import Connection

from ..config import settings
from ..telemetry.metrics import Collector, GaugeMetricFamily
from .broker import dead_queue

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


class QueueLengths(Collector):
    """``celery_queue_length`` of the service queue and its dead-task queue, on ``app``'s broker."""

    def __init__(self, app: Celery) -> None:
        self.app = app

    def collect(self) -> Iterator[GaugeMetricFamily]:
        lengths = GaugeMetricFamily(
            "celery_queue_length", "Messages waiting in the queue, not yet taken", labels=["queue"]
        )
        names = (settings.celery_queue, dead_queue(settings.celery_queue).name)
        try:
            with self.app.connection_for_read() as connection:
                connection.ensure_connection(max_retries=0, timeout=BROKER_TIMEOUT)
                for name in names:
                    lengths.add_metric([name], queue_length(connection, name))
        except Exception:
            logger.warning("metrics: the broker did not answer", exc_info=True)
            return
        yield lengths

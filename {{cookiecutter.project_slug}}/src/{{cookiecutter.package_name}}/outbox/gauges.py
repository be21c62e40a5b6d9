"""The outbox's state as gauges, read from the database at each scrape.

Served by the web API and the relay beside the queue's length
(``delivery/queue_lengths.py``).
"""

import logging
from collections.abc import Iterator

from sqlalchemy.exc import SQLAlchemyError

from ..telemetry.metrics import Collector, GaugeMetricFamily
from .commands import outbox_status

logger = logging.getLogger(__name__)


class OutboxGauges(Collector):
    """Unsent and dead messages, and the age of the oldest unsent one."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
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

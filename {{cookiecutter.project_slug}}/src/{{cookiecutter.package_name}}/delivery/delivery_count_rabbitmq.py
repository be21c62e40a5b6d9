"""Deliveries on RabbitMQ: the quorum queue counts them and dead-letters the last.

The queue's delivery limit (``broker.py``) does the work in the broker, even
when a whole worker dies; the worker only reads the count to report it.
"""

from celery import Task

from .lost_process import LostProcessReportingRequest


class LimitedDeliveryRequest(LostProcessReportingRequest):
    def delivery(self) -> int:
        # Quorum queues count earlier deliveries in this header.
        earlier = self.message.headers.get("x-delivery-count") or 0
        return int(earlier) + 1


class LimitedDeliveryTask(Task):  # type: ignore[type-arg]
    """Every task's base (``task_cls`` in ``celery.py``): its requests count deliveries."""

    Request = f"{__name__}:LimitedDeliveryRequest"

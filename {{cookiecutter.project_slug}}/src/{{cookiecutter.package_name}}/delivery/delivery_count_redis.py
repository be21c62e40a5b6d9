"""Deliveries on Redis: counted in Redis from the second on; the worker buries the dead.

Redis keeps no delivery count. A message it hands out again carries the
``redelivered`` flag, so the first delivery, every task's normal path, costs
nothing; each later one costs one round trip (INCR and EXPIRE, pipelined).
The count belongs to one published message (its delivery tag), so a retry or
a requeued dead task starts again from one.
"""

from typing import Any

from celery import Task
from celery.worker.state import task_ready

from ..config import settings
from .broker import dead_queue
from .dead_task_queue import move
from .lost_process import LostProcessReportingRequest

# Longer than a message can wait in a queue, so a count outlives its message.
COUNT_KEPT_FOR = 7 * 24 * 3600


class LimitedDeliveryRequest(LostProcessReportingRequest):
    counted: int | None = None
    buried = False

    def delivery(self) -> int:
        if self.counted is None:
            self.counted = count_redelivery(self) if self.delivery_info.get("redelivered") else 1
        return self.counted

    def give_up(self, why: str) -> None:
        # Moved before it is acknowledged: a crash in between leaves a copy in
        # both queues, never in neither.
        move(self.task.app, self.message, dead_queue(settings.celery_queue), {"x-dead-reason": why})
        self.acknowledge()
        super().give_up(why)

    def revoked(self) -> bool:
        # Celery asks this in the worker's main process just before the task
        # runs: the one place that can keep a message from running at all. A
        # message gets here past its limit when its whole worker died.
        if not self.buried and self.delivery() > settings.task_max_deliveries:
            self.give_up(f"it was delivered {self.delivery() - 1} times and never finished")
            task_ready(self)
            self.buried = True
        return self.buried or bool(super().revoked())


def count_redelivery(request: LimitedDeliveryRequest) -> int:
    key = f"{settings.celery_queue}.deliveries.{request.message.delivery_tag}"
    with request.task.app.connection_for_write() as connection:
        if connection.transport.driver_type != "redis":
            return 1  # the embedded SQLite broker: no place to count
        # kombu's stubs type the channel generically; Redis's carries its client.
        client: Any = connection.default_channel.client  # type: ignore[attr-defined]
        redeliveries, _ = client.pipeline().incr(key).expire(key, COUNT_KEPT_FOR).execute()
    return int(redeliveries) + 1


class LimitedDeliveryTask(Task):  # type: ignore[type-arg]
    """Every task's base (``task_cls`` in ``celery.py``): its requests count deliveries."""

    Request = f"{__name__}:LimitedDeliveryRequest"

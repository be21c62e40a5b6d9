"""The relay's queue in the broker, as the bench reads it: every task id in it, and each arrival.

Redis is read directly: the queue is a list (Celery pushes on the left, its
workers pop on the right), so LRANGE shows every message without taking it,
and a BRPOP returns the moment one arrives, with nothing of kombu's polling in
between. RabbitMQ is read through kombu, with the queue declared as the
service declares it (``service_queue``: a quorum queue).
"""

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from kombu import Message
from my_service.celery import app
from my_service.delivery.broker import service_queue

REDIS_SCHEMES = ("redis://", "rediss://")
# How long an arrival may take before the bench gives up on it.
ARRIVAL_TIMEOUT = 30
# RabbitMQ: messages in flight to the reader at once while it counts the queue.
PREFETCH = 1_000


def on_redis() -> bool:
    return str(app.conf.broker_url).startswith(REDIS_SCHEMES)


def _redis() -> Any:
    import redis  # Celery's Redis transport's own client, installed with it

    return redis.Redis.from_url(app.conf.broker_url)


def length(queue: str) -> int:
    """The messages waiting in ``queue``, as the broker counts them."""
    with app.connection_for_write() as connection:
        declared: Any = service_queue(queue).bind(connection.default_channel).queue_declare()
        return int(declared.message_count)


def task_ids(queue: str) -> list[str]:
    """The task id of every message in ``queue`` (on RabbitMQ, taking them off)."""
    if on_redis():
        return [json.loads(raw)["headers"]["id"] for raw in _redis().lrange(queue, 0, -1)]
    expected = length(queue)
    ids: list[str] = []

    def on_message(body: Any, message: Message) -> None:
        ids.append(message.headers["id"])
        message.ack()

    with (
        app.connection_for_read() as connection,
        connection.Consumer(service_queue(queue), callbacks=[on_message], accept=["json"]) as c,
    ):
        c.qos(prefetch_count=PREFETCH)
        while len(ids) < expected:
            connection.drain_events(timeout=ARRIVAL_TIMEOUT)
    return ids


def delete(queue: str) -> None:
    if on_redis():
        # kombu deletes only the bindings its own process declared: not a list
        # another process filled.
        _redis().delete(queue)
        return
    with app.connection_for_write() as connection:
        channel: Any = connection.default_channel
        channel.queue_delete(queue)


class Arrivals(Protocol):
    def wait_for(self, task_id: str) -> float:
        """The ``time.perf_counter()`` at which ``task_id``'s message reached a reader."""
        ...


class _RedisArrivals:
    def __init__(self, queue: str) -> None:
        self.queue = queue
        self.client = _redis()

    def wait_for(self, task_id: str) -> float:
        while True:
            popped = self.client.brpop(self.queue, timeout=ARRIVAL_TIMEOUT)
            if popped is None:
                raise TimeoutError(f"{task_id} not in {self.queue} after {ARRIVAL_TIMEOUT}s")
            if json.loads(popped[1])["headers"]["id"] == task_id:
                return time.perf_counter()


class _ConsumerArrivals:
    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.arrived: dict[str, float] = {}

    def on_message(self, body: Any, message: Message) -> None:
        self.arrived[message.headers["id"]] = time.perf_counter()
        message.ack()

    def wait_for(self, task_id: str) -> float:
        while task_id not in self.arrived:
            self.connection.drain_events(timeout=ARRIVAL_TIMEOUT)
        return self.arrived[task_id]


@contextmanager
def arrivals(queue: str) -> Iterator[Arrivals]:
    """A reader of ``queue``, listening from the start of the ``with`` block."""
    if on_redis():
        yield _RedisArrivals(queue)
        return
    with app.connection_for_read() as connection:
        reader = _ConsumerArrivals(connection)
        with connection.Consumer(
            service_queue(queue), callbacks=[reader.on_message], accept=["json"]
        ):
            yield reader

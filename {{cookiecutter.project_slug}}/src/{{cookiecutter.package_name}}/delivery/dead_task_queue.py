"""Dead tasks: listed, and sent again one at a time, by an operator.

A dead task waits in the dead-task queue (``<CELERY_QUEUE>.dead``) as the
message it was, headers and all. The broker cannot show a message without
taking it, so listing takes them all and hands them back unacknowledged.
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from celery import Celery
from kombu import Queue
from kombu.message import Message

from ..config import settings
from .broker import dead_queue, service_queue

# Headers the brokers add on the way to the dead-task queue; a task sent
# again starts without them.
DEATH_HEADERS = ("x-dead-reason", "x-death", "x-delivery-count", "redelivered")


@dataclass(frozen=True)
class DeadTask:
    task_id: str
    name: str
    args: str
    why: str

    def __str__(self) -> str:
        return f"{self.task_id} {self.name}{self.args}: {self.why}"


def dead_task(message: Message) -> DeadTask:
    headers: dict[str, Any] = message.headers
    # Why: in the worker's own header, or in the broker's x-death record.
    deaths: list[dict[str, Any]] = headers.get("x-death") or [{}]
    why = headers.get("x-dead-reason") or deaths[0].get("reason", "unknown")
    return DeadTask(headers["id"], headers["task"], headers.get("argsrepr", ""), why)


def move(
    app: Celery,
    message: Message,
    to: Queue,
    added: dict[str, Any],
    removed: Sequence[str] = (),
) -> None:
    """Publish a copy of ``message`` to ``to`` on ``app``'s broker, its headers changed as asked."""
    headers = {name: value for name, value in message.headers.items() if name not in removed}
    with app.producer_or_acquire() as producer:
        producer.publish(
            message.body,
            exchange=to.exchange,
            routing_key=to.routing_key,
            declare=[to],
            headers={**headers, **added},
            content_type=message.content_type,
            content_encoding=message.content_encoding,
            correlation_id=message.properties.get("correlation_id"),
            reply_to=message.properties.get("reply_to"),
            delivery_mode="persistent",
            retry=True,
        )


@contextmanager
def taken_dead_messages(app: Celery, service: str, limit: int) -> Iterator[list[Message]]:
    """Up to ``limit`` dead messages, handed back afterwards unless acknowledged."""
    with app.connection_for_write() as connection:
        queue = dead_queue(service).bind(connection.default_channel)
        queue.declare()
        messages = take(queue, limit)
        try:
            yield messages
        finally:
            for message in messages:
                if not message.acknowledged:
                    message.reject(requeue=True)


def take(queue: Queue, limit: int) -> list[Message]:
    messages: list[Message] = []
    while len(messages) < limit and (message := queue.get(no_ack=False)) is not None:
        messages.append(message)
    return messages


def dead_tasks(app: Celery, service: str | None = None, limit: int = 1000) -> list[DeadTask]:
    """The dead tasks of the ``service`` queue (CELERY_QUEUE by default), oldest first."""
    with taken_dead_messages(app, service or settings.celery_queue, limit) as messages:
        return [dead_task(message) for message in messages]


def requeue(app: Celery, task_id: str, service: str | None = None, limit: int = 1000) -> bool:
    """Send the dead task ``task_id`` to its service queue again; False if it is not dead."""
    service = service or settings.celery_queue
    with taken_dead_messages(app, service, limit) as messages:
        for message in messages:
            if message.headers.get("id") == task_id:
                move(app, message, service_queue(service), {}, DEATH_HEADERS)
                message.ack()
                return True
    return False

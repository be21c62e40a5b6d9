"""What the service asks of RabbitMQ: quorum queues, a delivery limit, a queue for dead tasks.

Quorum queues are replicated and are what RabbitMQ 4 recommends for data
that must not be lost. Their delivery limit bounds a task that kills its
worker process: after TASK_MAX_DELIVERIES deliveries RabbitMQ dead-letters it
into the dead-task queue (docs/design.md, "Deliveries and dead tasks").
"""

import math
from typing import Any

from celery import Celery
from celery.app.amqp import AMQP, Queues
from celery.result import AsyncResult
from kombu import Exchange, Queue

from ..config import settings

AMQP_SCHEMES = ("amqp://", "amqps://", "pyamqp://")


def dead_queue(name: str) -> Queue:
    # Classic, not quorum: listing dead tasks takes and returns each message,
    # and a quorum queue would count that as a delivery (and, with RabbitMQ 4's
    # default limit of 20, drop it at last).
    dead = f"{name}.dead"
    classic = {"x-queue-type": "classic"}
    return Queue(dead, Exchange(""), routing_key=dead, durable=True, queue_arguments=classic)


def service_queue(name: str) -> Queue:
    """The queue the workers consume, as every producer and worker declares it."""
    return Queue(
        name,
        # Native delayed delivery (countdowns, retries) reaches only queues
        # bound to a topic exchange.
        Exchange(name, type="topic"),
        routing_key=name,
        queue_arguments={
            "x-queue-type": "quorum",
            # RabbitMQ counts returns: a limit of n-1 returns allows n deliveries.
            "x-delivery-limit": settings.task_max_deliveries - 1,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": dead_queue(name).name,
            # The dead task leaves only once the dead-task queue has it.
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        },
    )


class ServiceQueues(Queues):
    def new_missing(self, name: str) -> Queue:
        # A queue Celery creates on its own (another service's, a test's) is
        # declared as the service queue is, delivery limit included, so any
        # two processes that name it declare the same queue.
        return service_queue(name)


class ServiceAMQP(AMQP):
    queues_cls = ServiceQueues


class QuorumQueueCelery(Celery):
    """Celery on RabbitMQ: quorum queues (``service_queue``), countdowns delayed delivery takes.

    The app's class in ``celery.py``. A subclass, not a setting: the countdown
    must be rounded before ``send_task`` reads it, and Celery has no hook there.
    """

    amqp_cls = f"{__name__}:ServiceAMQP"

    def send_task(self, name: str, *args: Any, **options: Any) -> AsyncResult[Any]:
        # Every task leaves through here: calls, retries, the outbox relay.
        # Native delayed delivery counts whole seconds, and Celery 5.7 raises
        # "countdown must be a positive number" for one between 0 and 1.
        countdown = options.get("countdown")
        if countdown and settings.celery_broker_url.startswith(AMQP_SCHEMES):
            options["countdown"] = math.ceil(countdown)
        return super().send_task(name, *args, **options)


def broker_settings(broker_url: str) -> dict[str, Any]:
    """Celery settings for this broker; none for the embedded SQLite broker."""
    if not broker_url.startswith(AMQP_SCHEMES):
        return {}
    return {
        "task_queues": [service_queue(settings.celery_queue)],
        # A publish returns once RabbitMQ has stored the message.
        "broker_transport_options": {"confirm_publish": True},
        # RabbitMQ redelivers a running task once the connection drops: stopped,
        # it rolls back and runs once more, instead of completing twice
        # (docs/design.md, "Late acknowledgement").
        "worker_cancel_long_running_tasks_on_connection_loss": True,
    }


def declare_dead_task_queues(sender: Any, **_: Any) -> None:
    """On ``worker_ready`` (``worker/signals.py``): the dead-task queue of each queue consumed."""
    # RabbitMQ holds a dead-lettered task back, out of sight, until the queue
    # it goes to exists.
    if not settings.celery_broker_url.startswith(AMQP_SCHEMES):
        return
    with sender.app.connection_for_write() as connection:
        for queue in sender.app.amqp.queues.consume_from.values():
            dead_queue(queue.name).bind(connection.default_channel).declare()

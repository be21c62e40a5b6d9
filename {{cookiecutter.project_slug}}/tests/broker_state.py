"""What the broker holds, seen through kombu as Celery itself sees it."""

from typing import Any

from kombu import Exchange, Queue

from {{ cookiecutter.package_name }}.celery import app


def celery_queue(name: str) -> Queue:
    # What Celery declares for a queue it was not configured with.
    return Queue(name, Exchange(name), routing_key=name)


def messages_waiting(name: str) -> int:
    """Messages in queue ``name`` that no worker has taken yet."""
    with app.connection_for_read() as connection:
        # kombu's stubs say this returns the name; it returns (name, messages, consumers).
        declared: Any = celery_queue(name).bind(connection.default_channel).queue_declare()
        return int(declared.message_count)


def delete_queue(name: str) -> None:
    with app.connection_for_write() as connection:
        queue = celery_queue(name).bind(connection.default_channel)
        # Purge first: Redis "deletes" only queues it saw declared on this channel.
        queue.purge()
        queue.delete()

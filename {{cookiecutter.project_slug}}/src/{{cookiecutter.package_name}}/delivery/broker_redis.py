"""What the service asks of Redis: the queue as Celery makes it, a list for dead tasks."""

from typing import Any

from kombu import Exchange, Queue

from ..config import settings

REDIS_SCHEMES = ("redis://", "rediss://")


def dead_queue(name: str) -> Queue:
    dead = f"{name}.dead"
    return Queue(dead, Exchange(""), routing_key=dead)


def service_queue(name: str) -> Queue:
    """The queue the workers consume, as Celery declares it by default."""
    return Queue(name, Exchange(name), routing_key=name)


def broker_settings(broker_url: str) -> dict[str, Any]:
    """Celery settings for this broker; none for the embedded SQLite broker."""
    if not broker_url.startswith(REDIS_SCHEMES):
        return {}
    # Only Redis has a visibility timeout (broker_settings.py); SQLite's
    # transport rejects the option.
    return {
        "broker_transport_options": {"visibility_timeout": settings.celery_visibility_timeout},
    }

"""The Celery app. Start a worker with ``celery -A {{ cookiecutter.package_name }}.celery worker``.

Importing this module does not touch the database; the task modules in
``include`` are imported by the worker, not by every producer.
"""

from celery import Celery

from .config import settings

# Connects the worker's signal handlers: a session per attempt, the database
# checked before consuming, task-aware log lines.
from .worker import lifecycle, task_logs  # noqa: F401


def broker_transport_options(broker_url: str) -> dict[str, int]:
    # Only Redis has a visibility timeout (see config.py); SQLite's transport
    # rejects the option.
    if broker_url.startswith(("redis://", "rediss://")):
        return {"visibility_timeout": settings.celery_visibility_timeout}
    return {}


def cancel_tasks_on_connection_loss(broker_url: str) -> bool:
    """True on RabbitMQ, which redelivers a running task once the connection drops."""
    # Stopped, the task rolls back and runs once more, instead of completing
    # twice (docs/design.md, "Late acknowledgement").
    return broker_url.startswith(("amqp://", "amqps://", "pyamqp://"))


app = Celery(
    "{{ cookiecutter.package_name }}",
    broker=settings.celery_broker_url,
    backend=settings.celery_result_backend,
    include=[
        "{{ cookiecutter.package_name }}.tasks",
{%- if cookiecutter.use_beat %}
        "{{ cookiecutter.package_name }}.periodic",
{%- endif %}
    ],
)

app.conf.update(
    # JSON only: a worker that accepted pickle would run code sent by anyone
    # who can write to the broker.
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    result_accept_content=["json"],
    task_default_queue=settings.celery_queue,
    # A task whose process dies goes back to the broker instead of being lost:
    # every task must be idempotent.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_cancel_long_running_tasks_on_connection_loss=cancel_tasks_on_connection_loss(
        settings.celery_broker_url
    ),
    # One task reserved per process: a slow task holds no other back, and a
    # crash redelivers only what was running.
    worker_prefetch_multiplier=1,
    broker_transport_options=broker_transport_options(settings.celery_broker_url),
    broker_connection_retry_on_startup=True,
    task_soft_time_limit=settings.task_soft_time_limit,
    task_time_limit=settings.task_time_limit,
    result_extended=True,
    timezone="UTC",
)

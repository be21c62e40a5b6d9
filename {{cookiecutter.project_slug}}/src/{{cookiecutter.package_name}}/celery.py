"""The Celery app. Start a worker with ``celery -A {{ cookiecutter.package_name }}.celery worker``.

Importing this module does not touch the database; the task modules listed in
``include`` are imported by the worker, not by every producer.
"""

from typing import Any

from celery import Celery
from celery.signals import after_setup_logger, after_setup_task_logger

from .config import settings
from .logs import configure_worker_logging


def broker_transport_options(broker_url: str) -> dict[str, int]:
    """Redis redelivers a task not acknowledged within ``visibility_timeout``.

    With late acks that covers a task's whole run and any retry countdown, so it
    must exceed both. Other transports have no such timeout (and the SQLite
    one rejects the option).
    """
    if broker_url.startswith(("redis://", "rediss://")):
        return {"visibility_timeout": settings.celery_visibility_timeout}
    return {}


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
    # Acknowledge a task after it finishes, not when it starts, and give it
    # back to the broker if the process running it dies: a crash redelivers
    # the task instead of losing it. Tasks must therefore be idempotent.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    # Reserve one task per process at a time, so a slow task does not hold
    # others back, and a crash can only redeliver what was running.
    worker_prefetch_multiplier=1,
    broker_transport_options=broker_transport_options(settings.celery_broker_url),
    broker_connection_retry_on_startup=True,
    # Store the task name, arguments, worker and retry count with each result.
    result_extended=True,
    timezone="UTC",
)


@after_setup_logger.connect
@after_setup_task_logger.connect
def use_task_aware_logging(logger: Any, **_: Any) -> None:
    """Every worker log line names its task; LOG_LEVEL sets the level (not --loglevel)."""
    configure_worker_logging(logger, settings.log_level)

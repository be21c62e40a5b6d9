"""The Celery app. Start a worker with ``celery -A {{ cookiecutter.package_name }}.celery worker``.

Importing this module does not touch the database; the task modules listed in
``include`` are imported by the worker, not by every producer.

Every worker loads this module, whatever tasks it runs, so the database's part
of a worker's life is wired here, for any task on any base class: the worker
waits for the database before it consumes, checks that the pool can serve its
threads, and ends the task's session after every attempt however it ended.
"""

from typing import Any

from celery import Celery
from celery.signals import (
    after_setup_logger,
    after_setup_task_logger,
    task_postrun,
    worker_init,
    worker_process_shutdown,
    worker_shutdown,
)

from .config import settings
from .db import end_session, engine, wait_for_database
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


def cancel_tasks_on_connection_loss(broker_url: str) -> bool:
    """Stop the running tasks when the connection to RabbitMQ is lost.

    RabbitMQ puts a task back in its queue as soon as the connection that held
    it is gone, and the acknowledgement of a task that finishes afterwards
    cannot reach it: left running, the task would complete, then run again.
    Stopped, its transaction rolls back and it runs again from the start, once.
    Redis keeps an unacknowledged task until the visibility timeout, and takes
    the acknowledgement of a task that finishes once it is back: there,
    stopping the task would only delay it by CELERY_VISIBILITY_TIMEOUT.
    """
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
    # Acknowledge a task after it finishes, not when it starts, and give it
    # back to the broker if the process running it dies: a crash redelivers
    # the task instead of losing it. Tasks must therefore be idempotent.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_cancel_long_running_tasks_on_connection_loss=cancel_tasks_on_connection_loss(
        settings.celery_broker_url
    ),
    # Reserve one task per process at a time, so a slow task does not hold
    # others back, and a crash can only redeliver what was running.
    worker_prefetch_multiplier=1,
    broker_transport_options=broker_transport_options(settings.celery_broker_url),
    broker_connection_retry_on_startup=True,
    # No attempt runs unbounded: see TASK_SOFT_TIME_LIMIT in config.py.
    task_soft_time_limit=settings.task_soft_time_limit,
    task_time_limit=settings.task_time_limit,
    # Store the task name, arguments, worker and retry count with each result.
    result_extended=True,
    timezone="UTC",
)


@after_setup_logger.connect
@after_setup_task_logger.connect
def use_task_aware_logging(logger: Any, **_: Any) -> None:
    """Every worker log line names its task; LOG_LEVEL sets the level (not --loglevel)."""
    configure_worker_logging(logger, settings.log_level)


@worker_init.connect
def check_database_before_consuming(sender: Any, **_: Any) -> None:
    """Refuse to start a worker the database cannot serve.

    It waits for the database (DB_WAIT_TIMEOUT at most), so a wrong DATABASE_URL stops
    the worker at once instead of failing every task. Celery logs and ignores
    exceptions from signal handlers; SystemExit is what stops the start.
    """
    # A prefork child or the solo pool runs one task at a time; the threads
    # pool runs one per thread, each with its own session and connection.
    threads = sender.concurrency if "thread" in str(sender.pool_cls).lower() else 1
    connections = settings.db_pool_size + settings.db_max_overflow
    if threads > connections:
        raise SystemExit(
            f"the worker runs {threads} threads, but a process may open only {connections}"
            f" database connections (DB_POOL_SIZE={settings.db_pool_size}"
            f" + DB_MAX_OVERFLOW={settings.db_max_overflow}); raise DB_POOL_SIZE to {threads}"
        )
    try:
        wait_for_database()
    except Exception as error:
        raise SystemExit(f"the database did not answer: {error}") from error


@task_postrun.connect
def end_the_attempts_session(**_: Any) -> None:
    """After every attempt, whatever its outcome, give its session back.

    ``task_postrun`` is sent for every state, retry, Ignore and Reject included;
    ``Task.after_return`` is not (Celery skips it for those).
    """
    end_session()


@worker_process_shutdown.connect
@worker_shutdown.connect
def close_connections_on_exit(**_: Any) -> None:
    """Close this process's connections properly when it exits (shutdown, max tasks)."""
    end_session()
    engine.dispose()

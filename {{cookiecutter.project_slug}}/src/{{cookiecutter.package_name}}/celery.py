"""The Celery app. Start a worker with ``celery -A {{ cookiecutter.package_name }}.celery worker``.

Importing this module does not touch the database; the task modules in
``include`` are imported by the worker, not by every producer.
"""

from .config import settings
from .delivery.broker import BrokerCelery, broker_settings

# Connects the worker's signal handlers: a session per attempt, the database
# checked before consuming, task-aware log lines, a heartbeat for the liveness
# probe, tracing in each pool process, task metrics (and the publish time on
# each message sent).
from .telemetry import task_metrics  # noqa: F401
from .telemetry import worker as telemetry_worker  # noqa: F401
from .worker import heartbeat, lifecycle, task_logs  # noqa: F401

app = BrokerCelery(
    "{{ cookiecutter.package_name }}",
    broker=settings.celery_broker_url,
    backend=settings.celery_result_backend,
    include=[
        "{{ cookiecutter.package_name }}.tasks",
{%- if cookiecutter.use_beat %}
        "{{ cookiecutter.package_name }}.periodic",
{%- endif %}
    ],
    # Every task's requests count deliveries: a task that kills its worker
    # process is not delivered forever (delivery/).
    task_cls=f"{__package__}.delivery.request:LimitedDeliveryTask",
)

app.conf.update(
    # JSON only: a worker that accepted pickle would run code sent by anyone
    # who can write to the broker.
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    result_accept_content=["json"],
    task_default_queue=settings.celery_queue,
    # A task whose process dies goes back to the broker instead of being lost,
    # up to TASK_MAX_DELIVERIES times: every task must be idempotent.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    # One task reserved per process: a slow task holds no other back, and a
    # crash redelivers only what was running.
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    task_soft_time_limit=settings.task_soft_time_limit,
    task_time_limit=settings.task_time_limit,
    result_extended=True,
    timezone="UTC",
)
app.conf.update(broker_settings(settings.celery_broker_url))

"""The Celery app. Start a worker with ``celery -A {{ cookiecutter.package_name }}.celery worker``.

Importing this module does not touch the database or the broker and creates
no file; the task modules in ``include`` are imported by the worker, not by
every producer. The signal handlers are connected here, once, by
``worker/signals.py``.
"""

{% if cookiecutter.broker == 'rabbitmq' -%}
from .config import settings
from .delivery.broker import QuorumQueueCelery, broker_settings
from .worker.signals import connect_signals

app = QuorumQueueCelery(
{%- else -%}
from celery import Celery

from .config import settings
from .delivery.broker import broker_settings
from .worker.signals import connect_signals

app = Celery(
{%- endif %}
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
    task_cls=f"{__package__}.delivery.delivery_count:LimitedDeliveryTask",
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
# Once, here: every process that loads the app, producer or worker, gets them.
connect_signals()

"""Every handler of Celery's signals in this service, connected in one place.

``celery.py`` calls ``connect_signals()`` once, when it makes the app. The
handlers live with what they look after (the session, the heartbeat, the
logs, the metrics); this list connects them explicitly, rather than by
decorators that connect as a side effect of importing a module: here is the
whole of what Celery calls back, and importing any module connects nothing.
Connecting twice is harmless: a signal keeps one connection per handler.
"""

from typing import Any

from celery.signals import (
    after_setup_logger,
    after_setup_task_logger,
    before_task_publish,
    task_postrun,
    task_prerun,
    worker_init,
    worker_process_init,
    worker_process_shutdown,
    worker_ready,
    worker_shutdown,
)

from ..config import settings
{%- if cookiecutter.broker == 'rabbitmq' %}
from ..delivery.broker import declare_dead_task_queues
{%- endif %}
from ..telemetry.error_tracking import flush_errors, start_error_tracking
from ..telemetry.metrics import serve_metrics, use_multiprocess_mode
from ..telemetry.task_metrics import count_the_run, stamp_publish_time, start_the_clock
from ..telemetry.tracing import flush_spans, start_tracing
from .heartbeat import beat_from_the_consumer_loop
from .lifecycle import (
    check_database_before_consuming,
    close_connections_on_exit,
    end_the_attempts_session,
)
from .task_logs import use_task_aware_logging


def connect_signals() -> None:
    # Every process that sends tasks: the web API, the relay, beat, the workers.
    before_task_publish.connect(stamp_publish_time)

    # The worker's main process, as it starts and before it forks its pool.
    worker_init.connect(count_in_shared_files)
    worker_init.connect(check_database_before_consuming)
    worker_init.connect(trace_a_worker_without_pool_processes)
    worker_init.connect(report_errors_before_the_pool_forks)
    after_setup_logger.connect(use_task_aware_logging)
    after_setup_task_logger.connect(use_task_aware_logging)
{%- if cookiecutter.broker == 'rabbitmq' %}
    worker_ready.connect(declare_dead_task_queues)
{%- endif %}
    worker_ready.connect(serve_task_metrics)
    worker_ready.connect(beat_from_the_consumer_loop)

    # Each process that runs tasks: a prefork pool process, or the worker itself.
    worker_process_init.connect(trace_this_pool_process)
    task_prerun.connect(start_the_clock)
    task_postrun.connect(count_the_run)
    task_postrun.connect(end_the_attempts_session)
    worker_process_shutdown.connect(flush_before_exit)
    worker_process_shutdown.connect(close_connections_on_exit)
    worker_shutdown.connect(close_connections_on_exit)


def count_in_shared_files(**_: Any) -> None:
    # Before the pool forks: its processes inherit the metrics directory, and
    # the main process adds up their counts (telemetry/metrics.py).
    use_multiprocess_mode()


def trace_this_pool_process(**_: Any) -> None:
    start_tracing()


def trace_a_worker_without_pool_processes(sender: Any, **_: Any) -> None:
    # The solo and threads pools run tasks in the worker's own process.
    if "prefork" not in str(sender.pool_cls).lower():
        start_tracing()


def report_errors_before_the_pool_forks(**_: Any) -> None:
    # Not at worker_process_init: a pool process builds its tasks' tracers
    # before that signal, and the Celery integration wraps them as they are
    # built. Each pool process inherits it; sentry-sdk starts its sending
    # thread again in a forked process.
    start_error_tracking()


def flush_before_exit(**_: Any) -> None:
    # A child recycled by --max-tasks-per-child would lose its last spans
    # (opentelemetry-python-contrib issue 4916). Its error reports too, were
    # they still queued: it exits without atexit, where sentry-sdk flushes.
    # (sentry-sdk sends each at once; no test has seen one lost.)
    flush_spans()
    flush_errors()


def serve_task_metrics(**_: Any) -> None:
    # From the main process, which outlives its pool processes and adds up
    # their counts (telemetry/metrics.py).
    if settings.metrics_port is not None:
        serve_metrics(settings.metrics_port)

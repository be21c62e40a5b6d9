"""A worker's telemetry: tracing in each process that runs tasks, metrics served by the main one."""

from typing import Any

from celery.signals import worker_init, worker_process_init, worker_process_shutdown, worker_ready

from ..config import settings
from .metrics import serve_metrics
from .tracing import flush_spans, start_tracing


@worker_process_init.connect
def trace_this_pool_process(**_: Any) -> None:
    start_tracing()


@worker_init.connect
def trace_a_worker_without_pool_processes(sender: Any, **_: Any) -> None:
    # The solo and threads pools run tasks in the worker's own process.
    if "prefork" not in str(sender.pool_cls).lower():
        start_tracing()


@worker_process_shutdown.connect
def flush_before_exit(**_: Any) -> None:
    # A child recycled by --max-tasks-per-child would lose its last spans
    # (opentelemetry-python-contrib issue 4916).
    flush_spans()


@worker_ready.connect
def serve_task_metrics(**_: Any) -> None:
    # From the main process, which outlives its pool processes and adds up
    # their counts (telemetry/metrics.py).
    if settings.metrics_port is not None:
        serve_metrics(settings.metrics_port)

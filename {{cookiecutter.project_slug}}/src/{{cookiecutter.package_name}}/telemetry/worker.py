"""Tracing in a worker: started in each process that runs tasks, flushed before it exits."""

from typing import Any

from celery.signals import worker_init, worker_process_init, worker_process_shutdown

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

"""What the workers do: tasks by outcome, how long each ran, and how long it waited to start.

Counted through Celery's signals (connected in ``worker/signals.py``) in the
process that runs the task. The wait is measured from a header each producer
stamps on the messages it publishes, so it compares two machines' clocks: keep
them synchronised (NTP).
"""

import time
from datetime import datetime
from typing import Any

from celery import Task, states

from .metrics import SECONDS_BUCKETS, Counter, Histogram

PUBLISHED_AT = "published_at"
# Which attribute of the running request holds its start on this process's clock.
STARTED = "runtime_started"
OUTCOMES = {
    states.SUCCESS: "succeeded",
    states.FAILURE: "failed",
    states.RETRY: "retried",
    states.REJECTED: "rejected",
    states.IGNORED: "ignored",
}

TASKS = Counter(
    "celery_tasks_total",
    "Task runs by task name and outcome: succeeded, failed, retried, rejected, ignored, lost",
    ["task", "outcome"],
)
RUNTIME = Histogram(
    "celery_task_runtime_seconds", "How long each run took", ["task"], buckets=SECONDS_BUCKETS
)
QUEUE_WAIT = Histogram(
    "celery_task_queue_wait_seconds",
    "From publish, or from the ETA of a delayed task, to the start of its run",
    ["task"],
    buckets=SECONDS_BUCKETS,
)


def stamp_publish_time(headers: dict[str, Any], **_: Any) -> None:
    # A protocol 2 header: the worker's task.request carries it.
    headers[PUBLISHED_AT] = time.time()


def start_the_clock(task: Task[Any, Any], **_: Any) -> None:
    setattr(task.request, STARTED, time.perf_counter())
    published_at = getattr(task.request, PUBLISHED_AT, None)
    if published_at is None:  # sent by a producer that does not stamp it
        return
    due = float(published_at)
    eta: object = task.request.eta  # ISO 8601 text, whatever celery-types says
    if isinstance(eta, str):
        due = max(due, datetime.fromisoformat(eta).timestamp())
    QUEUE_WAIT.labels(task.name).observe(max(0.0, time.time() - due))


def count_the_run(task: Task[Any, Any], state: str, **_: Any) -> None:
    TASKS.labels(task.name, OUTCOMES.get(state, str(state).lower())).inc()
    started = getattr(task.request, STARTED, None)
    if started is not None:
        RUNTIME.labels(task.name).observe(time.perf_counter() - started)


def count_lost_run(task_name: str) -> None:
    """A run whose process died under it, counted by the worker's main process."""
    TASKS.labels(task_name, "lost").inc()

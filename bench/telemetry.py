"""What telemetry costs with tracing off: per task run, and per message relayed.

``python -m bench.telemetry CALLS`` prints ``{"per_task_us", "per_message_us"}``
as JSON; ``costs()`` runs it in a subprocess of its own, as the other
in-process figures are.

Per task, what a worker process runs around each task: Celery's
``task_prerun`` and ``task_postrun`` signals (the task metrics' receivers and
the service's others), and the log filter that adds trace and task ids to the
task's "succeeded" line. Per message, what the relay runs around each
publish: the ``before_task_publish`` signal (the publish time stamped) and the
message's trace context entered and left. Each is timed with the telemetry
connected, then disconnected, alternately, five times; the figure is the
median difference, so what is not telemetry cancels out.
"""

import json
import logging
import statistics
import sys
import time
import uuid
from collections.abc import Callable

from .inprocess import json_from

ROUNDS = 5


def task_run(with_telemetry: bool) -> Callable[[], None]:
    from celery import states
    from celery.signals import task_postrun, task_prerun
    from my_service.tasks import get_from_db as task
    from my_service.telemetry import task_metrics
    from my_service.telemetry.logs import RunningContext

    record = logging.LogRecord("celery.app.trace", logging.INFO, __file__, 0, "succeeded", (), None)
    running = RunningContext()
    connect = task_prerun.connect if with_telemetry else task_prerun.disconnect
    connect(task_metrics.start_the_clock)
    connect = task_postrun.connect if with_telemetry else task_postrun.disconnect
    connect(task_metrics.count_the_run)

    def run() -> None:
        task_id = str(uuid.uuid4())
        task.push_request(id=task_id, published_at=time.time(), eta=None)
        task_prerun.send(sender=task, task_id=task_id, task=task, args=(), kwargs={})
        if with_telemetry:
            running.filter(record)
        task_postrun.send(
            sender=task,
            task_id=task_id,
            task=task,
            args=(),
            kwargs={},
            retval=None,
            state=states.SUCCESS,
        )
        task.pop_request()

    return run


def message_relayed(with_telemetry: bool) -> Callable[[], None]:
    from celery.signals import before_task_publish
    from my_service.telemetry import task_metrics
    from my_service.telemetry.tracing import within_trace

    if not with_telemetry:
        # With no receiver, Celery does not send the signal at all.
        return lambda: None
    before_task_publish.connect(task_metrics.stamp_publish_time)

    def relay() -> None:
        headers: dict[str, object] = {}
        with within_trace({}):
            before_task_publish.send(
                sender="my_service.tasks.get_from_db",
                body=(),
                exchange="",
                routing_key="q",
                headers=headers,
                properties={},
                declare=[],
                retry_policy=None,
            )

    return relay


def timed(make: Callable[[bool], Callable[[], None]], with_telemetry: bool, calls: int) -> float:
    call = make(with_telemetry)
    for _ in range(calls // 10):
        call()
    started = time.perf_counter()
    for _ in range(calls):
        call()
    return (time.perf_counter() - started) / calls * 1e6


def share(make: Callable[[bool], Callable[[], None]], calls: int) -> float:
    """Microseconds a call spends in telemetry: the median of alternate rounds' differences."""
    differences = [timed(make, True, calls) - timed(make, False, calls) for _ in range(ROUNDS)]
    return round(statistics.median(differences), 2)


def costs(calls: int, env: dict[str, str]) -> dict[str, float]:
    return {
        name: float(value)
        for name, value in json_from("bench.telemetry", str(calls), env=env).items()
    }


def main() -> None:
    calls = int(sys.argv[1])
    print(
        json.dumps(
            {"per_task_us": share(task_run, calls), "per_message_us": share(message_relayed, calls)}
        )
    )


if __name__ == "__main__":
    main()

"""What became of a task another process sent (the outbox relay, the web server).

With a result backend that stores results (Redis, a database), the test reads
it there. ``rpc://`` replies only to the process that published the task, so
then the worker's log is the one witness this test process has.
"""

import ast
import time
from typing import Any

from celery.backends.rpc import RPCBackend
from celery.result import AsyncResult

from {{ cookiecutter.package_name }}.celery import app

from .worker_process import WorkerProcess

TIMEOUT = 60


def results_are_stored() -> bool:
    return not isinstance(app.backend, RPCBackend)


def result_of(task_id: str, worker: WorkerProcess) -> object:
    """The task's return value, once it has run without a retry."""
    if not results_are_stored():
        value = result_in_log(task_id, worker)
        assert f"[{task_id}] retry" not in worker.log()
        return value
    result: AsyncResult[Any] = AsyncResult(task_id, app=app)
    value = result.get(timeout=TIMEOUT)
    assert result.retries == 0
    return value


def result_in_log(task_id: str, worker: WorkerProcess) -> object:
    marker = f"[{task_id}] succeeded in "
    deadline = time.monotonic() + TIMEOUT
    while marker not in (log := worker.log()):
        assert time.monotonic() < deadline, f"task {task_id} did not succeed:\n{log}"
        time.sleep(0.1)
    line = next(line for line in log.splitlines() if marker in line)
    # "... succeeded in 0.01s: {'id': 1, ...}"
    return ast.literal_eval(line.split(marker, 1)[1].split(": ", 1)[1])


def deliveries(task_id: str, worker: WorkerProcess) -> int:
    """How often the worker received the task: a duplicate or a retry adds one."""
    return worker.log().count(f"[{task_id}] received")

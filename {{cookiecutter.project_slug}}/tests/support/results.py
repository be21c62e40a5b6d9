"""What became of a task another process sent (the outbox relay, the web server).

Read from the result backend when it stores results; ``rpc://`` replies only
to the process that published the task, so then the worker's log is the witness.
"""

import ast
from typing import Any

from celery.backends.rpc import RPCBackend
from celery.result import AsyncResult

from {{ cookiecutter.package_name }}.celery import app

from .waiting import TIMEOUT, wait_until
from .workers import ChildProcess


def results_are_stored() -> bool:
    return not isinstance(app.backend, RPCBackend)


def result_of(task_id: str, worker: ChildProcess) -> object:
    """The task's return value, once it has run without a retry."""
    if not results_are_stored():
        value = result_in_log(task_id, worker)
        assert f"[{task_id}] retry" not in worker.log()
        return value
    result: AsyncResult[Any] = AsyncResult(task_id, app=app)
    value = result.get(timeout=TIMEOUT)
    assert result.retries == 0
    return value


def result_in_log(task_id: str, worker: ChildProcess) -> object:
    marker = f"[{task_id}] succeeded in "
    wait_until(lambda: marker in worker.log(), f"task {task_id} to succeed")
    line = next(line for line in worker.log().splitlines() if marker in line)
    # "... succeeded in 0.01s: {'id': 1, ...}"
    return ast.literal_eval(line.split(marker, 1)[1].split(": ", 1)[1])


def deliveries(task_id: str, worker: ChildProcess) -> int:
    """How often the worker received the task: a duplicate or a retry adds one."""
    return worker.log().count(f"[{task_id}] received")

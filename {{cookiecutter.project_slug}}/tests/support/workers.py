"""Real ``celery worker`` processes for the tests, each on a queue the test names.

Never eager mode: eager tasks run in the caller's thread and session, which
hides exactly the bugs these tests look for.
"""

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager

from .environment import RUN_ID, TMP_DIR, queue_of
from .processes import ChildProcess, ProcessFailed
from scripts.processes import running_worker, worker_command

__all__ = ["ChildProcess", "ProcessFailed", "has_retried", "own_worker"]

# Tasks only the tests need; every test worker loads them.
PROBE_TASKS = ("tests.support.probe_tasks",)


@contextmanager
def own_worker(
    name: str,
    *,
    pool: str = "prefork",
    concurrency: int = 2,
    node: str | None = None,
    env: Mapping[str, str] | None = None,
    app: str | None = None,
    extra: Sequence[str] = (),
) -> Iterator[ChildProcess]:
    """A worker consuming only ``queue_of(name)``: send its tasks with ``queue=queue_of(name)``.

    The run's shared worker is ``own_worker("session")``, on the default queue.
    Several may share a queue under different ``node`` names. ``app`` names
    another app module, whose worker then loads only that app's tasks.
    """
    node = node or name
    command = worker_command(
        pool=pool,
        concurrency=concurrency,
        node_name=f"{node}-{RUN_ID}",
        queue=queue_of(name),
        include=() if app else PROBE_TASKS,
        extra=extra,
        **({"app": app} if app else {}),
    )
    with running_worker(TMP_DIR / f"{node}.log", command, env) as worker:
        yield worker


def has_retried(worker: ChildProcess, task_id: str) -> Callable[[], bool]:
    """True once ``worker`` has logged a retry of the task: it looked at least once."""
    return lambda: f"[{task_id}] retry" in worker.log()

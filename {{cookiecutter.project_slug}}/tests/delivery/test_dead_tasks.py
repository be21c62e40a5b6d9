"""A task that kills its worker process: delivered TASK_MAX_DELIVERIES times, then dead.

Each test runs a real prefork worker on a service queue of its own (with its
dead-task queue), and a task that SIGKILLs its own process, as the OOM killer
or a crashing C extension would.
"""

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.config import settings
from {{ cookiecutter.package_name }}.delivery.broker import service_queue
from {{ cookiecutter.package_name }}.delivery.lost_process import TaskIsDead

from ..support.broker_state import delete_queue, is_dead
from ..support.environment import queue_of
from ..support.metrics import scrape_port
from ..support.probe_tasks import die_while, journal_lines
from ..support.processes import free_port
from ..support.waiting import TIMEOUT, wait_until
from ..support.workers import ChildProcess, own_worker

MAX_DELIVERIES = settings.task_max_deliveries


@pytest.fixture
def poison_queue(broker_server: str) -> Iterator[str]:
    """A name for the test's own service queue; it and its dead-task queue go afterwards."""
    name = f"poison-{uuid.uuid4().hex[:8]}"
    yield name
    delete_queue(queue_of(name))


def worker_for(name: str, metrics_port: int | None = None) -> AbstractContextManager[ChildProcess]:
    """A prefork worker whose service queue, CELERY_QUEUE, is ``queue_of(name)``."""
    metrics = {} if metrics_port is None else {"METRICS_PORT": str(metrics_port)}
    return own_worker(name, env={"CELERY_QUEUE": queue_of(name), **metrics})


def dead_tasks_command(*args: str, queue: str) -> subprocess.CompletedProcess[str]:
    """``python -m <package>.dead_tasks``, as an operator runs it for the service's queue."""
    return subprocess.run(
        [sys.executable, "-m", "{{ cookiecutter.package_name }}.dead_tasks", *args],
        env={**os.environ, "CELERY_QUEUE": queue},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


def test_a_task_that_kills_its_process_is_delivered_max_times_then_kept_dead(
    poison_queue: str, tmp_path: Path
) -> None:
    queue = queue_of(poison_queue)
    flag, journal, others = tmp_path / "flag", tmp_path / "journal", tmp_path / "others"
    flag.touch()
    no_flag = str(tmp_path / "absent")
    port = free_port()

    with worker_for(poison_queue, metrics_port=port) as worker:
        poison = die_while.apply_async((str(flag), str(journal)), queue=service_queue(queue))
        healthy = [
            die_while.apply_async((no_flag, str(others)), queue=service_queue(queue))
            for _ in range(5)
        ]
        wait_until(lambda: is_dead(queue, poison.id), "the task to be dead")
        log = worker.log()
        assert [result.get(timeout=TIMEOUT) for result in healthy] == ["survived"] * 5
        metrics = scrape_port(port)

    starts = journal_lines(journal, "start")
    assert len(starts) == MAX_DELIVERIES, "one delivery per process it killed, no more"
    assert len(set(starts)) == MAX_DELIVERIES, "each delivery in a new process"
    assert f"{die_while.name}[{poison.id}] is dead: its worker process died on each of its" in log
    assert log.count(f"[{poison.id}] is dead") == 1, "moved at its last death, not delivered again"
    assert f"python -m {{ cookiecutter.package_name }}.dead_tasks requeue {poison.id}" in log
    with pytest.raises(TaskIsDead, match="died on each of its"):
        poison.get(timeout=TIMEOUT)
    # Counted by the worker's main process: the process that ran it is gone.
    assert (
        metrics.value("celery_tasks_total", task=die_while.name, outcome="lost") == MAX_DELIVERIES
    )
    assert metrics.value("celery_tasks_total", task=die_while.name, outcome="succeeded") == 5


def test_an_operator_lists_a_dead_task_and_sends_it_again(
    poison_queue: str, tmp_path: Path
) -> None:
    queue = queue_of(poison_queue)
    flag, journal = tmp_path / "flag", tmp_path / "journal"
    flag.touch()

    with worker_for(poison_queue):
        poison = die_while.apply_async((str(flag), str(journal)), queue=service_queue(queue))
        wait_until(lambda: is_dead(queue, poison.id), "the task to be dead")

        listed = dead_tasks_command("list", queue=queue)
        assert listed.returncode == 0, listed.stderr
        assert f"{poison.id} {die_while.name}(" in listed.stdout

        # Sent again before its cause is fixed: a new count, so as many deliveries again.
        assert dead_tasks_command("requeue", poison.id, queue=queue).returncode == 0
        wait_until(
            lambda: (
                len(journal_lines(journal, "start")) == 2 * MAX_DELIVERIES
                and is_dead(queue, poison.id)
            ),
            "the requeued task to be dead again",
        )

        flag.unlink()  # the cause is fixed: the task no longer kills its process
        requeued = dead_tasks_command("requeue", poison.id, queue=queue)
        assert requeued.returncode == 0, requeued.stderr
        wait_until(lambda: journal_lines(journal, "done"), "the requeued task to finish")

    assert len(journal_lines(journal, "start")) == 2 * MAX_DELIVERIES + 1
    assert not is_dead(queue, poison.id)
    again = dead_tasks_command("requeue", poison.id, queue=queue)
    assert again.returncode == 1
    assert "no dead task" in again.stdout

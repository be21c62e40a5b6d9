"""Delivery: a crash redelivers, a shutdown hands tasks on, nodes share a queue, JSON only."""

import os
import signal
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, scoped_session

from {{ cookiecutter.package_name }}.celery import app
from {{ cookiecutter.package_name }}.models import User
from {{ cookiecutter.package_name }}.tasks import get_from_db

from .broker_state import messages_waiting
from .conftest import RUN_ID, add_user, own_worker, queue_of, wait_until
from .worker_process import WorkerProcess
from .worker_tasks import journal_lines, rename_slowly

TIMEOUT = 60
# The service reserves one task per process, the one it runs; a worker that
# reserves one more shows what becomes of a reserved task at shutdown.
PREFETCH_TWO = ["--prefetch-multiplier=2"]


@pytest.mark.usefixtures("broker")
def test_a_task_whose_process_is_killed_runs_again_and_completes_once(
    session: scoped_session[Session], tmp_path: Path
) -> None:
    add_user(session, 60, "before")
    journal = tmp_path / "journal"

    with own_worker("crash") as worker:
        result = rename_slowly.apply_async(
            (60, "after", 2.0, str(journal)), queue=queue_of("crash")
        )
        wait_until(lambda: journal_lines(journal, "start"), "the task to start")
        (killed,) = journal_lines(journal, "start")
        os.kill(int(killed.split()[1]), signal.SIGKILL)

        assert result.get(timeout=TIMEOUT) == "after"
        log = worker.log()

    starts, dones = journal_lines(journal, "start"), journal_lines(journal, "done")
    assert len(starts) == 2, "delivered again after the crash"
    assert dones == [f"done {starts[1].split()[1]}"], "completed once, by the second process"
    assert "WorkerLostError" in log
    session.expire_all()
    assert session.get_one(User, 60).name == "after"


def test_a_warm_shutdown_finishes_running_tasks_and_hands_the_rest_on(
    broker: str, session: scoped_session[Session], tmp_path: Path
) -> None:
    users = range(301, 305)
    for user_id in users:
        add_user(session, user_id, "before")
    session.remove()
    journals = {user_id: tmp_path / f"{user_id}.journal" for user_id in users}
    # One process each, so that no two tasks write at once (SQLite would make
    # one of them retry). The first worker runs the first task and reserves
    # the second; the rest stay in the queue.
    running, reserved, queued = users[0], users[1], users[2:]

    def lines(user_id: int, kind: str) -> list[str]:
        return journal_lines(journals[user_id], kind)

    prefetching = own_worker("warm", node="warm-first", concurrency=1, extra=PREFETCH_TWO)
    with prefetching as first:
        task_ids = {
            user_id: rename_slowly.apply_async(
                (user_id, "after", 2.0 if user_id == running else 0.2, str(journals[user_id])),
                queue=queue_of("warm"),
            ).id
            for user_id in users
        }
        wait_until(lambda: lines(running, "start"), "the first task to start")
        wait_until(lambda: f"[{task_ids[reserved]}] received" in first.log(), "the second")
        first.process.send_signal(signal.SIGTERM)
        first.process.wait(TIMEOUT)
        log = first.log()

    # The running task finished in the process that started it...
    (started,) = lines(running, "start")
    assert lines(running, "done") == [f"done {started.split()[1]}"]
    assert "Warm shutdown" in log
    # ...and the others, reserved or queued, went back to the queue untouched.
    # The embedded SQLite broker's worker hands what it receives to its pool
    # at once, and runs it before it stops: nothing goes back, nothing is lost.
    handed_on = [user_id for user_id in users if not journals[user_id].exists()]
    if not broker.startswith("sqla+"):
        assert handed_on == [reserved, *queued]
    assert messages_waiting(queue_of("warm")) == len(handed_on)

    with own_worker("warm", node="warm-second", concurrency=1):
        wait_until(lambda: all(lines(user_id, "done") for user_id in users), "every task")

    # None lost, none run twice.
    assert {user_id: len(lines(user_id, "start")) for user_id in users} == dict.fromkeys(users, 1)
    assert {user_id: len(lines(user_id, "done")) for user_id in users} == dict.fromkeys(users, 1)
    session.expire_all()
    assert {session.get_one(User, user_id).name for user_id in users} == {"after"}


@pytest.mark.usefixtures("broker")
def test_two_worker_nodes_share_a_queue_without_duplicates(
    session: scoped_session[Session],
) -> None:
    for user_id in range(1, 51):
        add_user(session, user_id)
    session.remove()

    with (
        own_worker("pair", node="node-a") as node_a,
        own_worker("pair", node="node-b") as node_b,
    ):
        results = [
            get_from_db.apply_async((1 + n % 50,), queue=queue_of("pair")) for n in range(100)
        ]
        values = [result.get(timeout=TIMEOUT) for result in results]
        logs = node_a.log() + node_b.log()

    assert [value["id"] for value in values] == [1 + n % 50 for n in range(100)]
    # Each node took a share, and no task was handed to both.
    nodes = Counter(str(result.worker).split("@")[0] for result in results)
    assert set(nodes) == {f"node-a-{RUN_ID}", f"node-b-{RUN_ID}"}, nodes
    assert all(logs.count(f"[{result.id}] received") == 1 for result in results)


def test_a_pickled_message_is_refused(worker: WorkerProcess) -> None:
    pickled = app.send_task(get_from_db.name, (1,), serializer="pickle")
    after = get_from_db.delay(-1)  # a JSON task sent after it, to know it was seen

    with pytest.raises(ValueError, match="positive integer"):
        after.get(timeout=TIMEOUT)
    wait_until(lambda: "ContentDisallowed" in worker.log(), "the worker to refuse it")
    assert pickled.state == "PENDING"
    assert f"[{pickled.id}] received" not in worker.log()

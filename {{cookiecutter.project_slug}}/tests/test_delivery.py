"""Delivery: a crash redelivers, two nodes share a queue, only JSON gets in."""

import os
import signal
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, scoped_session

from {{ cookiecutter.package_name }}.celery import app
from {{ cookiecutter.package_name }}.models import User
from {{ cookiecutter.package_name }}.tasks import get_from_db

from .conftest import RUN_ID, add_user, own_worker, queue_of, wait_until
from .worker_process import WorkerProcess
from .worker_tasks import journal_lines, rename_slowly

TIMEOUT = 60


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

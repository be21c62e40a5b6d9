"""The app's delivery settings in ``celery.py``, on real workers.

Late acknowledgement, rejected on a lost worker, and one reserved task per
process: a crash redelivers, a shutdown hands tasks on, nodes share a queue;
and JSON only.
"""

import os
import signal
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, scoped_session

from {{ cookiecutter.package_name }}.celery import app

from .support.broker_state import messages_waiting
from .support.environment import RUN_ID, queue_of
from .support.probe_tasks import journal_lines, read_record, rename_slowly, report_leftover
from .support.records import Record, add_record
from .support.waiting import TIMEOUT, wait_until
from .support.workers import ChildProcess, own_worker

# The service reserves one task per process, the one it runs; a worker that
# reserves one more shows what becomes of a reserved task at shutdown.
PREFETCH_TWO = ["--prefetch-multiplier=2"]


@pytest.mark.usefixtures("broker")
def test_a_task_whose_process_is_killed_runs_again_and_completes_once(
    session: scoped_session[Session], tmp_path: Path
) -> None:
    add_record(session, 60)
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
    assert session.get_one(Record, 60).name == "after"


def test_a_warm_shutdown_finishes_running_tasks_and_hands_the_rest_on(
    broker: str, session: scoped_session[Session], tmp_path: Path
) -> None:
    records = range(301, 305)
    for record_id in records:
        add_record(session, record_id)
    session.remove()
    journals = {record_id: tmp_path / f"{record_id}.journal" for record_id in records}
    # One process each, so that no two tasks write at once (SQLite would make
    # one of them retry). The first worker runs the first task and reserves
    # the second; the rest stay in the queue.
    running, reserved, queued = records[0], records[1], records[2:]

    def lines(record_id: int, kind: str) -> list[str]:
        return journal_lines(journals[record_id], kind)

    prefetching = own_worker("warm", node="warm-first", concurrency=1, extra=PREFETCH_TWO)
    with prefetching as first:
        task_ids = {
            record_id: rename_slowly.apply_async(
                (
                    record_id,
                    "after",
                    2.0 if record_id == running else 0.2,
                    str(journals[record_id]),
                ),
                queue=queue_of("warm"),
            ).id
            for record_id in records
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
    handed_on = [record_id for record_id in records if not journals[record_id].exists()]
    if not broker.startswith("sqla+"):
        assert handed_on == [reserved, *queued]
    assert messages_waiting(queue_of("warm")) == len(handed_on)

    with own_worker("warm", node="warm-second", concurrency=1):
        wait_until(lambda: all(lines(record_id, "done") for record_id in records), "every task")

    # None lost, none run twice.
    assert {record_id: len(lines(record_id, "start")) for record_id in records} == dict.fromkeys(
        records, 1
    )
    assert {record_id: len(lines(record_id, "done")) for record_id in records} == dict.fromkeys(
        records, 1
    )
    session.expire_all()
    assert {session.get_one(Record, record_id).name for record_id in records} == {"after"}


@pytest.mark.usefixtures("broker")
def test_two_worker_nodes_share_a_queue_without_duplicates(
    session: scoped_session[Session],
) -> None:
    for record_id in range(1, 51):
        add_record(session, record_id)
    session.remove()

    with (
        own_worker("pair", node="node-a") as node_a,
        own_worker("pair", node="node-b") as node_b,
    ):
        results = [
            read_record.apply_async((1 + n % 50,), queue=queue_of("pair")) for n in range(100)
        ]
        values = [result.get(timeout=TIMEOUT) for result in results]
        logs = node_a.log() + node_b.log()

    assert [value["id"] for value in values] == [1 + n % 50 for n in range(100)]
    # Each node took a share, and no task was handed to both.
    nodes = Counter(str(result.worker).split("@")[0] for result in results)
    assert set(nodes) == {f"node-a-{RUN_ID}", f"node-b-{RUN_ID}"}, nodes
    assert all(logs.count(f"[{result.id}] received") == 1 for result in results)


def test_a_pickled_message_is_refused(worker: ChildProcess) -> None:
    pickled = app.send_task(read_record.name, (1,), serializer="pickle")
    after = report_leftover.delay()  # a JSON task sent after it, to know it was seen

    after.get(timeout=TIMEOUT)
    wait_until(lambda: "ContentDisallowed" in worker.log(), "the worker to refuse it")
    assert pickled.state == "PENDING"
    assert f"[{pickled.id}] received" not in worker.log()

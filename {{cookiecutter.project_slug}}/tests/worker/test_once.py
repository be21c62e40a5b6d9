"""``once=True``: a task's writes commit once per message, however often it is delivered.

Each test sends the tests' own once tasks (``support/probe_tasks.py``) to a
real prefork worker with four processes, on a queue of its own.
"""

import os
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from celery.result import AsyncResult
from sqlalchemy import func, select
from sqlalchemy.orm import Session, scoped_session

from {{ cookiecutter.package_name }}.celery import app
from {{ cookiecutter.package_name }}.db import engine
from {{ cookiecutter.package_name }}.worker.once import CommitInOnceTask
from {{ cookiecutter.package_name }}.worker.sqlalchemy_task import SqlAlchemyTask
from {{ cookiecutter.package_name }}.worker.task_records import TaskRecord, purge_task_records

from ..support.environment import TMP_DIR, queue_of
from ..support.probe_tasks import (
    journal_lines,
    once_insert,
    once_insert_then_die,
    once_insert_together,
)
from ..support.processes import running_relay
from ..support.records import Record
from ..support.tcp_proxy import DEFAULT_PORTS, scheme
from ..support.waiting import TIMEOUT, wait_until
from ..support.workers import ChildProcess, own_worker

QUEUE = queue_of("once")


@pytest.fixture(scope="module")
def once_worker(broker: str) -> Iterator[ChildProcess]:
    with own_worker("once", concurrency=4) as worker:
        yield worker


def names(session: scoped_session[Session]) -> list[str]:
    session.expire_all()
    return sorted(session.scalars(select(Record.name)).all())


def recorded(session: scoped_session[Session], task_id: str) -> list[Any]:
    session.expire_all()
    query = select(TaskRecord.value).where(TaskRecord.task_id == task_id)
    return list(session.scalars(query).all())


def test_a_process_killed_after_its_commit_leaves_one_row_and_the_first_value(
    broker: str, once_worker: ChildProcess, session: scoped_session[Session], tmp_path: Path
) -> None:
    flag, journal = tmp_path / "flag", tmp_path / "journal"
    flag.touch()

    result = once_insert_then_die.apply_async(("killed", str(flag), str(journal)), queue=QUEUE)
    value = result.get(timeout=TIMEOUT)

    returned, *_ = journal_lines(journal, "returns")
    assert [value["id"], value["process"]] == [int(n) for n in returned.split()[1:]]
    assert not flag.exists(), "the first delivery committed, then its process died"
    log = once_worker.log()
    if scheme(broker) in DEFAULT_PORTS:
        assert f"[{result.id}] committed on an earlier delivery" in log
        assert len(journal_lines(journal, "start")) == 1, "the redelivery skipped the body"
    else:
        # The embedded broker does not mark a redelivery: the body runs again,
        # and its writes roll back at the record's key.
        assert f"[{result.id}] was committed by another delivery" in log
        assert len(journal_lines(journal, "start")) == 2
    assert names(session) == ["killed"]
    assert recorded(session, result.id) == [value]


def test_the_same_message_three_times_at_once_commits_once_and_never_fails(
    once_worker: ChildProcess, session: scoped_session[Session], tmp_path: Path
) -> None:
    journal, task_id = tmp_path / "journal", str(uuid.uuid4())
    for _ in range(3):
        once_insert_together.apply_async(
            ("together", str(journal), 3), task_id=task_id, queue=QUEUE
        )

    def ended() -> int:
        log = once_worker.log()
        return log.count(f"[{task_id}] succeeded in ") + log.count(f"[{task_id}] raised")

    wait_until(lambda: ended() == 3, "three deliveries to end")
    value: Any = AsyncResult(task_id, app=app).get(timeout=TIMEOUT)

    log = once_worker.log()
    assert log.count(f"[{task_id}] succeeded in ") == 3, log
    assert len(journal_lines(journal, "start")) == 3, "three bodies ran side by side"
    assert log.count(f"[{task_id}] was committed by another delivery") == 2
    # Nothing about the record's key: neither an error nor a warning. (Celery's
    # database result backend, in embedded mode, may warn as it stores the
    # three results of one task id: its own table, its own retry.)
    assert "task_records" not in log
    assert not [line for line in log.splitlines() if "ERROR/" in line and task_id in line]
    assert f"[{task_id}] retry" not in log
    assert names(session) == ["together"]
    assert recorded(session, task_id) == [value]


def test_a_body_that_raises_commits_and_records_nothing_and_its_retry_commits(
    once_worker: ChildProcess, session: scoped_session[Session]
) -> None:
    failed = once_insert.apply_async(("failed", "fail"), queue=QUEUE)
    retried = once_insert.apply_async(("retried", "retry"), queue=QUEUE)

    with pytest.raises(RuntimeError, match="failing on purpose"):
        failed.get(timeout=TIMEOUT)
    value = retried.get(timeout=TIMEOUT)

    assert retried.retries == 1
    assert names(session) == ["retried 1"], "only the retry's insert committed"
    assert recorded(session, failed.id) == []
    assert recorded(session, retried.id) == [value]


def test_a_body_that_commits_or_returns_what_json_cannot_hold_fails_and_commits_nothing(
    once_worker: ChildProcess, session: scoped_session[Session]
) -> None:
    committing = once_insert.apply_async(("committing", "commit"), queue=QUEUE)
    not_json = once_insert.apply_async(("not_json", "not_json"), queue=QUEUE)

    with pytest.raises(CommitInOnceTask, match="is marked once=True: it must not commit"):
        committing.get(timeout=TIMEOUT)
    with pytest.raises(TypeError, match=r"recorded as JSON; set .* is not"):
        not_json.get(timeout=TIMEOUT)
    assert names(session) == []
    assert recorded(session, committing.id) == recorded(session, not_json.id) == []


def test_a_once_task_cannot_be_read_only() -> None:
    def once_read_only() -> None:
        """Never registered."""

    # The app makes a task's class when it is first used: here, or as a worker starts.
    task = app.task(base=SqlAlchemyTask, once=True, read_only=True, name="tests.once_read_only")
    with pytest.raises(TypeError, match="not read_only"):
        task(once_read_only).name  # noqa: B018


def test_called_as_a_function_a_once_task_commits_without_a_record(
    session: scoped_session[Session],
) -> None:
    value = once_insert("called")
    session.remove()

    assert names(session) == ["called 0"]
    assert isinstance(value, dict)
    assert value["process"] == os.getpid()
    assert session.scalar(select(func.count()).select_from(TaskRecord)) == 0


def add_records(session: scoped_session[Session], count: int, age: timedelta, prefix: str) -> None:
    now = session.execute(select(func.now())).scalar_one()
    for n in range(count):
        session.add(TaskRecord(task_id=f"{prefix}-{n}", value=None, created_at=now - age))
    session.commit()


def test_records_older_than_the_retention_are_purged_in_batches(
    session: scoped_session[Session],
) -> None:
    add_records(session, 5, timedelta(days=2), "old")
    add_records(session, 1, timedelta(0), "new")

    assert purge_task_records(engine, retention=24 * 3600, batch=2) == 5

    assert session.scalars(select(TaskRecord.task_id)).all() == ["new-0"]


@pytest.mark.usefixtures("broker")
def test_the_relay_loop_purges_records_older_than_task_record_retention(
    session: scoped_session[Session],
) -> None:
    add_records(session, 2, timedelta(days=2), "old")
    add_records(session, 1, timedelta(0), "new")

    def remaining() -> list[str]:
        session.rollback()  # a fresh snapshot
        return list(session.scalars(select(TaskRecord.task_id)).all())

    # Its housekeeping runs at its first pass, then once a minute.
    env = {"TASK_RECORD_RETENTION": str(24 * 3600)}
    with running_relay(TMP_DIR / "relay-purges-records.log", env):
        wait_until(lambda: remaining() == ["new-0"], "the relay to purge the old records")

"""Tasks sent from inside a transaction wait for its commit, or never go.

Without this, a task can start before the transaction that wrote its data has
committed, find nothing, and retry or fail: the "task runs before the
row exists".
"""

from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, scoped_session

from {{ cookiecutter.package_name }}.database.after_commit import call_after_commit
from {{ cookiecutter.package_name }}.db import engine

from ..support.broker_state import messages_waiting
from ..support.probe_tasks import read_record, report_leftover
from ..support.records import Record
from ..support.waiting import TIMEOUT
from ..support.workers import ChildProcess


def new_record(session: Session | scoped_session[Session], record_id: int) -> None:
    session.add(Record(id=record_id, name="new"))
    session.flush()


def test_nothing_reaches_the_broker_before_commit(
    session: scoped_session[Session], unwatched_queue: str
) -> None:
    new_record(session, 50)
    read_record.apply_async_on_commit((50,), queue=unwatched_queue)

    assert messages_waiting(unwatched_queue) == 0
    session.commit()
    assert messages_waiting(unwatched_queue) == 1


def test_a_rollback_drops_the_task(session: scoped_session[Session], unwatched_queue: str) -> None:
    new_record(session, 51)
    result = read_record.apply_async_on_commit((51,), queue=unwatched_queue)

    session.rollback()
    session.commit()  # a later commit does not bring it back

    assert messages_waiting(unwatched_queue) == 0
    assert result.state == "PENDING"


def test_without_a_transaction_the_task_goes_at_once(
    session: scoped_session[Session], unwatched_queue: str
) -> None:
    assert not session().in_transaction()

    read_record.apply_async_on_commit((52,), queue=unwatched_queue)

    assert messages_waiting(unwatched_queue) == 1


def test_the_worker_finds_the_row_on_its_first_try(
    session: scoped_session[Session], worker: ChildProcess
) -> None:
    new_record(session, 53)
    result = read_record.delay_on_commit(53)
    # A task sent after it has been through the worker: had ours been sent
    # already, the worker would have received it first (one queue, in order).
    report_leftover.delay().get(timeout=TIMEOUT)
    assert f"[{result.id}] received" not in worker.log()
    session.commit()

    assert result.get(timeout=TIMEOUT)["id"] == 53
    assert result.retries == 0


@pytest.mark.usefixtures("session")  # empties the tables afterwards
def test_a_session_of_your_own_holds_the_task_until_its_commit(unwatched_queue: str) -> None:
    with Session(engine) as own:
        new_record(own, 55)
        read_record.apply_async_on_commit((55,), queue=unwatched_queue, session=own)

        assert messages_waiting(unwatched_queue) == 0
        own.commit()
    assert messages_waiting(unwatched_queue) == 1


def test_a_session_of_your_own_that_rolls_back_sends_nothing(unwatched_queue: str) -> None:
    with Session(engine) as own:
        new_record(own, 56)
        result = read_record.apply_async_on_commit((56,), queue=unwatched_queue, session=own)
        own.rollback()

    assert messages_waiting(unwatched_queue) == 0
    assert result.state == "PENDING"


@pytest.fixture
def memory_session() -> Iterator[Session]:
    """A plain SQLite session: savepoint rules need no server and no broker."""
    engine = create_engine("sqlite://")
    with Session(engine) as session:
        yield session
    engine.dispose()


def test_callbacks_follow_savepoints(memory_session: Session) -> None:
    called: list[str] = []
    memory_session.begin()
    call_after_commit(memory_session, lambda: called.append("outer"))
    with memory_session.begin_nested():
        call_after_commit(memory_session, lambda: called.append("released savepoint"))
    savepoint = memory_session.begin_nested()
    call_after_commit(memory_session, lambda: called.append("rolled back savepoint"))
    savepoint.rollback()

    assert called == []
    memory_session.commit()
    assert called == ["outer", "released savepoint"]


def test_a_failing_callback_does_not_undo_the_commit_or_skip_others(
    memory_session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    called: list[str] = []

    def broker_down() -> None:
        raise ConnectionError("broker unreachable")

    memory_session.begin()
    call_after_commit(memory_session, broker_down)
    call_after_commit(memory_session, lambda: called.append("next"))
    memory_session.commit()

    assert called == ["next"]
    assert "the commit stands" in caplog.text
    assert not memory_session.in_transaction()

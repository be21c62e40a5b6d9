"""Every task attempt gives its session back, however it ends.

Each test runs a worker with one prefork process, so the task after the one
under test runs in the same process (or, when that process died, in its
replacement) and can say whether a session was left over. The database says
whether any connection is still in a transaction or busy.
"""

from collections.abc import Iterator

import pytest
from celery.result import AsyncResult

from ..support.database_state import abandoned_sessions, busy_connections
from ..support.environment import queue_of
from ..support.probe_tasks import end_attempt, report_leftover
from ..support.waiting import TIMEOUT, wait_until
from ..support.workers import ChildProcess, own_worker

QUEUE = queue_of("outcomes")


@pytest.fixture(scope="module")
def one_process(broker: str) -> Iterator[ChildProcess]:
    """A worker whose one pool process runs each task after the one before."""
    with own_worker("outcomes", concurrency=1) as worker:
        yield worker


def no_connection_busy(database_url: str) -> None:
    """Wait until no connection is in a transaction or running a statement.

    A connection whose statement was interrupted stays busy on the server
    until that statement ends; one that leaked stays in a transaction forever.
    """
    wait_until(lambda: busy_connections(database_url) == 0, "no connection busy", timeout=20)


def next_task_in(queue: str) -> dict[str, object]:
    """Run ``report_leftover`` after whatever is queued, and return its report."""
    report: dict[str, object] = report_leftover.apply_async(queue=queue).get(timeout=TIMEOUT)
    return report


def current_process() -> int:
    """The worker's pool process, found to start with no session."""
    report = next_task_in(QUEUE)
    assert report["had_session"] is False
    return int(str(report["process"]))


OUTCOMES = ["succeed", "fail", "retry", "ignore", "reject", "replace", "unpublishable_retry"]


@pytest.mark.parametrize("outcome", OUTCOMES)
def test_the_session_is_given_back_after(
    outcome: str, one_process: ChildProcess, database_url: str
) -> None:
    process = current_process()

    attempt = end_attempt.apply_async((outcome,), queue=QUEUE)
    after = next_task_in(QUEUE)  # runs once the attempt has ended

    assert after == {"process": process, "had_session": False}
    no_connection_busy(database_url)
    if outcome == "unpublishable_retry":
        # Celery could not send the retry, so it rejected the message instead.
        log = one_process.log()
        assert any(
            f"[{attempt.id}]" in line and "not JSON serializable" in line
            for line in log.splitlines()
        )
        assert "celery.exceptions.Reject: (EncodeError(" in log


def test_a_soft_time_limit_mid_statement_discards_the_connection(
    one_process: ChildProcess, database_url: str
) -> None:
    process = current_process()

    attempt = end_attempt.apply_async(("sleep", 3.0), queue=QUEUE, soft_time_limit=1)
    with pytest.raises(Exception, match="SoftTimeLimitExceeded"):
        attempt.get(timeout=TIMEOUT)

    assert next_task_in(QUEUE) == {"process": process, "had_session": False}
    no_connection_busy(database_url)
    assert "could not return the session's connection" not in one_process.log()
    assert "another command is already in progress" not in one_process.log()
    # The process goes on with a working connection.
    assert end_attempt.apply_async(("succeed",), queue=QUEUE).get(timeout=TIMEOUT) == "succeed"


def test_a_hard_time_limit_replaces_the_process_and_frees_its_connection(
    one_process: ChildProcess, database_url: str
) -> None:
    process = current_process()

    attempt = end_attempt.apply_async(("hang", 5.0), queue=QUEUE, soft_time_limit=1, time_limit=2)
    with pytest.raises(Exception, match="TimeLimitExceeded"):
        attempt.get(timeout=TIMEOUT)

    replacement = next_task_in(QUEUE)
    assert replacement["had_session"] is False
    assert replacement["process"] != process
    no_connection_busy(database_url)
    assert end_attempt.apply_async(("succeed",), queue=QUEUE).get(timeout=TIMEOUT) == "succeed"


@pytest.mark.usefixtures("broker")
def test_processes_that_exit_close_their_connections(database_url: str) -> None:
    before = abandoned_sessions(database_url)
    if before is None:
        pytest.skip("needs a database server; sqlite has no connections to close")

    # Each pool process exits after two tasks; the worker then shuts down.
    with own_worker("exits", concurrency=2, extra=["--max-tasks-per-child=2"]):
        results: list[AsyncResult] = [  # type: ignore[type-arg]
            end_attempt.apply_async(("succeed",), queue=queue_of("exits")) for _ in range(12)
        ]
        assert [result.get(timeout=TIMEOUT) for result in results] == ["succeed"] * 12

    # A process that exits without closing its connections leaves the server
    # to find them cut ("unexpected EOF"): an abandoned session.
    assert abandoned_sessions(database_url) == before
    no_connection_busy(database_url)

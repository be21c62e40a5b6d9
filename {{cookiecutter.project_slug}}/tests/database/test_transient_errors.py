"""Only errors that heal are retried, whatever class the driver gives them.

SQLite and PyMySQL raise a missing table or an unknown column as
``OperationalError``, the class they also use for a lost connection.
"""

from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, scoped_session

from ..support.environment import queue_of
from ..support.probe_tasks import end_attempt, journal_lines, rename_both, run_statement
from ..support.records import add_record
from ..support.waiting import TIMEOUT
from ..support.workers import own_worker

NEVER_HEAL = {
    "missing table": "SELECT * FROM no_such_table",
    "unknown column": "SELECT no_such_column FROM test_records",
    "syntax error": "SELEKT 1",
    "duplicate key": "INSERT INTO test_records (id, name) VALUES (1, 'a'), (1, 'b')",
}


@pytest.mark.usefixtures("worker")
@pytest.mark.parametrize("statement", NEVER_HEAL.values(), ids=NEVER_HEAL.keys())
def test_errors_that_cannot_heal_fail_at_once(statement: str) -> None:
    result = run_statement.delay(statement)

    with pytest.raises(Exception, match=r"ProgrammingError|OperationalError|IntegrityError"):
        result.get(timeout=TIMEOUT)
    assert result.retries == 0


@pytest.mark.usefixtures("broker")
def test_a_deadlock_is_retried_and_both_tasks_complete(
    session: scoped_session[Session], tmp_path: Path, database_url: str
) -> None:
    add_record(session, 80)
    add_record(session, 81)
    session.remove()
    journal = str(tmp_path / "journal")
    # On a server both lock a row, then meet; on SQLite the loser can never
    # lock, so the winner waits only a moment for it.
    wait = 5 if make_url(database_url).get_backend_name() == "sqlite" else 30
    # Enough retries for SQLite, where the loser retries until the winner commits.
    with own_worker("deadlock", env={"TASK_MAX_RETRIES": "50"}) as worker:
        queue = queue_of("deadlock")
        one = rename_both.apply_async((80, 81, "one", journal, wait), queue=queue)
        two = rename_both.apply_async((81, 80, "two", journal, wait), queue=queue)

        assert one.get(timeout=TIMEOUT) == "one"
        assert two.get(timeout=TIMEOUT) == "two"
        log = worker.log()

    assert one.retries is not None
    assert two.retries is not None
    assert one.retries + two.retries >= 1, "one of them lost and was retried"
    # Only the loser's attempts were repeated, and only for a lock conflict.
    assert len(journal_lines(Path(journal), "attempt")) == 2 + one.retries + two.retries
    conflicts = ("deadlock detected", "Deadlock found", "database is locked")
    assert any(conflict in log for conflict in conflicts)


@pytest.mark.usefixtures("broker", "database_server")
def test_a_statement_over_the_timeout_fails_at_once() -> None:
    with own_worker("slow", env={"DB_STATEMENT_TIMEOUT": "0.5"}):
        result = end_attempt.apply_async(("sleep", 3.0), queue=queue_of("slow"))
        with pytest.raises(Exception, match=r"QueryCanceled|max_statement_time"):
            result.get(timeout=TIMEOUT)
        # The server cancelled the statement, the process goes on.
        after = end_attempt.apply_async(("succeed",), queue=queue_of("slow"))
        assert after.get(timeout=TIMEOUT) == "succeed"
    assert result.retries == 0

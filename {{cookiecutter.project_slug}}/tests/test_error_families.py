"""Only errors that heal are retried, whatever class the driver gives them.

SQLite and PyMySQL raise a missing table or an unknown column as
``OperationalError``, the class they also use for a lost connection; retrying
those would only delay the failure by minutes of backoff. The decision is
made from the error's code (see ``transient_errors``), on every database.
"""

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, scoped_session

from {{ cookiecutter.package_name }}.models import User
from {{ cookiecutter.package_name }}.tasks import create_user

from .conftest import DATABASE_PORTS, add_user, own_worker, queue_of
from .tcp_proxy import TcpProxy
from .worker_tasks import end_attempt, journal_lines, rename_both, run_statement

TIMEOUT = 60

NEVER_HEAL = {
    "missing table": "SELECT * FROM no_such_table",
    "unknown column": "SELECT no_such_column FROM users",
    "syntax error": "SELEKT 1",
}


@pytest.mark.usefixtures("worker")
@pytest.mark.parametrize("statement", NEVER_HEAL.values(), ids=NEVER_HEAL.keys())
def test_errors_that_cannot_heal_fail_at_once(statement: str) -> None:
    result = run_statement.delay(statement)

    with pytest.raises(Exception, match=r"ProgrammingError|OperationalError"):
        result.get(timeout=TIMEOUT)
    assert result.retries == 0


@pytest.mark.usefixtures("broker")
def test_a_deadlock_is_retried_and_both_tasks_complete(
    session: scoped_session[Session], tmp_path: Path, database_url: str
) -> None:
    add_user(session, 80)
    add_user(session, 81)
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


def server_database(database_url: str, why: str) -> str:
    backend = make_url(database_url).get_backend_name()
    if backend not in DATABASE_PORTS:
        pytest.skip(f"needs a database server; {backend} {why}")
    return backend


@pytest.mark.usefixtures("broker")
def test_a_statement_over_the_timeout_fails_at_once(database_url: str) -> None:
    server_database(database_url, "has no statement timeout")

    with own_worker("slow", env={"DB_STATEMENT_TIMEOUT": "0.5"}):
        result = end_attempt.apply_async(("sleep", 3.0), queue=queue_of("slow"))
        with pytest.raises(Exception, match=r"QueryCanceled|max_statement_time"):
            result.get(timeout=TIMEOUT)
        # The server cancelled the statement, the process goes on.
        after = end_attempt.apply_async(("succeed",), queue=queue_of("slow"))
        assert after.get(timeout=TIMEOUT) == "succeed"
    assert result.retries == 0


@pytest.mark.usefixtures("broker")
def test_create_user_after_an_ambiguous_commit_returns_the_user_it_made(
    session: scoped_session[Session], database_url: str
) -> None:
    backend = server_database(database_url, "has no connection to cut")
    proxy = TcpProxy.in_front_of(database_url, DATABASE_PORTS[backend])
    through_proxy = {"DATABASE_URL": proxy.start().url_through(database_url)}
    with proxy, own_worker("ambiguous", env=through_proxy) as worker:
        # The server receives COMMIT and commits; the task never hears it did.
        proxy.cut_once_after(b"COMMIT")
        result = create_user.apply_async(("Ken", "ken@example.com"), queue=queue_of("ambiguous"))
        user_id = result.get(timeout=TIMEOUT)
        log = worker.log()

    assert proxy.cuts == 1
    assert "Signal handler" not in log, "the session was ended without an error"
    assert result.retries == 1
    users = session.execute(select(User).where(User.email == "ken@example.com")).scalars().all()
    assert [(user.id, user.name) for user in users] == [(user_id, "Ken")]


@pytest.mark.usefixtures("worker")
def test_create_user_run_twice_returns_the_same_id(session: scoped_session[Session]) -> None:
    first = create_user.delay("Grace", "grace@example.com").get(timeout=TIMEOUT)
    again = create_user.delay("Grace", "grace@example.com").get(timeout=TIMEOUT)
    other = create_user.delay("Someone else", "grace@example.com")

    assert again == first
    with pytest.raises(Exception, match="IntegrityError"):
        other.get(timeout=TIMEOUT)
    assert other.retries == 0

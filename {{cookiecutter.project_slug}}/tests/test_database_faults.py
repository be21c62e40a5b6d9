"""Database faults: what heals is retried, what cannot heal fails at once.

These need a database server: SQLite has no connection to drop and does not
enforce column lengths.
"""

from pathlib import Path

import pytest
from sqlalchemy.orm import Session, scoped_session

from {{ cookiecutter.package_name }}.tasks import create_user, get_from_db

from .conftest import add_user, has_retried, own_worker, queue_of, wait_until
from .database_state import terminate_connections
from .tcp_proxy import TcpProxy
from .worker_tasks import journal_lines, rename_slowly

TIMEOUT = 60
# Every test here needs a database server: SQLite has no connection to drop.
pytestmark = pytest.mark.usefixtures("database_server")


@pytest.mark.usefixtures("broker")
def test_a_refused_connection_is_retried_until_the_server_is_back(
    session: scoped_session[Session], database_url: str, database_proxy: TcpProxy
) -> None:
    add_user(session, 70)
    proxy = database_proxy
    env = {"DATABASE_URL": proxy.url_through(database_url)}

    with own_worker("refused", env=env) as worker:
        proxy.stop()  # the server goes away: open connections cut, new ones refused
        result = get_from_db.apply_async((70,), queue=queue_of("refused"))
        wait_until(has_retried(worker, result.id), "a retry while the server is away")
        proxy.start()

        assert result.get(timeout=TIMEOUT)["id"] == 70
    assert result.retries is not None
    assert result.retries >= 1


@pytest.mark.usefixtures("broker")
def test_a_connection_dropped_mid_task_is_retried(
    session: scoped_session[Session], database_url: str, tmp_path: Path
) -> None:
    add_user(session, 71, "before")
    session.remove()
    journal = tmp_path / "journal"

    with own_worker("dropped"):
        result = rename_slowly.apply_async(
            (71, "after", 1.0, str(journal)), queue=queue_of("dropped")
        )
        wait_until(lambda: journal_lines(journal, "start"), "the task's transaction to begin")
        assert terminate_connections(database_url) >= 1

        assert result.get(timeout=TIMEOUT) == "after"
    assert result.retries == 1
    assert len(journal_lines(journal, "done")) == 1


@pytest.mark.usefixtures("broker")
def test_after_the_server_drops_idle_connections_the_next_tasks_just_work(
    session: scoped_session[Session], database_url: str
) -> None:
    add_user(session, 72)
    session.remove()

    with own_worker("outage", concurrency=4):
        before = [get_from_db.apply_async((72,), queue=queue_of("outage")) for _ in range(20)]
        assert all(result.get(timeout=TIMEOUT)["id"] == 72 for result in before)
        assert terminate_connections(database_url) >= 1
        after = [get_from_db.apply_async((72,), queue=queue_of("outage")) for _ in range(20)]
        assert all(result.get(timeout=TIMEOUT)["id"] == 72 for result in after)

    # Pre-ping found the dead connections before any task used one: no retries.
    assert [result.retries for result in after] == [0] * 20


@pytest.mark.usefixtures("worker", "session")
def test_a_value_too_long_fails_at_once_with_data_error() -> None:
    result = create_user.delay("x" * 101, "long@example.com")

    # The client cannot rebuild the driver's exception; its name comes through.
    with pytest.raises(Exception, match="DataError"):
        result.get(timeout=TIMEOUT)
    assert result.retries == 0

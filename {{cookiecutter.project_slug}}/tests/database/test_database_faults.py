"""Database faults: what heals is retried, what cannot heal fails at once.

These need a database server: SQLite has no connection to drop and does not
enforce column lengths.
"""

from pathlib import Path

import pytest
from sqlalchemy.orm import Session, scoped_session

from ..support.database_state import terminate_connections
from ..support.environment import queue_of
from ..support.probe_tasks import insert_record, journal_lines, read_record, rename_slowly
from ..support.records import add_record
from ..support.tcp_proxy import TcpProxy
from ..support.waiting import TIMEOUT, wait_until
from ..support.workers import has_retried, own_worker

pytestmark = pytest.mark.usefixtures("database_server")


@pytest.mark.usefixtures("broker")
def test_a_refused_connection_is_retried_until_the_server_is_back(
    session: scoped_session[Session], database_url: str, database_proxy: TcpProxy
) -> None:
    add_record(session, 70)
    env = {"DATABASE_URL": database_proxy.url_through(database_url)}

    with own_worker("refused", env=env) as worker:
        database_proxy.stop()  # open connections cut, new ones refused
        result = read_record.apply_async((70,), queue=queue_of("refused"))
        wait_until(has_retried(worker, result.id), "a retry while the server is away")
        database_proxy.start()

        assert result.get(timeout=TIMEOUT)["id"] == 70
    assert result.retries is not None
    assert result.retries >= 1


@pytest.mark.usefixtures("broker")
def test_a_connection_dropped_mid_task_is_retried(
    session: scoped_session[Session], database_url: str, tmp_path: Path
) -> None:
    add_record(session, 71)
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
    add_record(session, 72)
    session.remove()

    with own_worker("outage", concurrency=4):
        before = [read_record.apply_async((72,), queue=queue_of("outage")) for _ in range(20)]
        assert all(result.get(timeout=TIMEOUT)["id"] == 72 for result in before)
        assert terminate_connections(database_url) >= 1
        after = [read_record.apply_async((72,), queue=queue_of("outage")) for _ in range(20)]
        assert all(result.get(timeout=TIMEOUT)["id"] == 72 for result in after)

    # The checkout check found the dead connections before any task used one.
    assert [result.retries for result in after] == [0] * 20


@pytest.mark.usefixtures("worker", "session")
def test_a_value_too_long_fails_at_once_with_data_error() -> None:
    result = insert_record.delay("x" * 101)

    # The client cannot rebuild the driver's exception; its name comes through.
    with pytest.raises(Exception, match="DataError"):
        result.get(timeout=TIMEOUT)
    assert result.retries == 0

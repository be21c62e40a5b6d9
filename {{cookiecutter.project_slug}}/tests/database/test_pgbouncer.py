"""The service through PgBouncer in transaction mode: DATABASE_URL pooled, DATABASE_DIRECT_URL not.

One PgBouncer of the module's own, with fewer server connections than the
worker has processes, so consecutive transactions of one process land on
different server connections. What a session kept (a prepared statement, a
startup option, a LISTEN) would be lost there.
"""

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, scoped_session

from {{ cookiecutter.package_name }}.outbox import add_to_outbox

from ..support.broker_state import messages_waiting
from ..support.environment import TMP_DIR, queue_of
from ..support.pgbouncer import Pooled, pooled_worker, prestart, skip_unless_a_server
from ..support.probe_tasks import end_attempt, read_record
from ..support.processes import free_port, running_relay
from ..support.records import Record
from ..support.waiting import TIMEOUT, wait_until
from ..support.workers import has_retried

QUEUE = queue_of("pgbouncer")


@pytest.fixture(scope="module")
def pooled(database_url: str, broker: str) -> Iterator[Pooled]:
    """The worker through PgBouncer; its statement timeout 1 s, the role's default."""
    skip_unless_a_server(database_url)
    with pooled_worker("pgbouncer", statement_timeout="1") as pooled:
        yield pooled


def test_migrations_use_the_direct_url_and_the_wait_for_them_the_pooled_one(
    database_url: str,
) -> None:
    skip_unless_a_server(database_url)
    nowhere = make_url(database_url).set(port=free_port()).render_as_string(hide_password=False)
    quickly = {"DB_WAIT_TIMEOUT": "1", "DB_CONNECT_TIMEOUT": "1"}

    prestart(quickly | {"DATABASE_URL": nowhere, "DATABASE_DIRECT_URL": database_url})
    prestart(
        quickly | {"DATABASE_URL": database_url, "DATABASE_DIRECT_URL": nowhere},
        "--wait-for-migrations",
        "0",
    )


def test_a_task_retries_until_a_commit_through_pgbouncer(
    session: scoped_session[Session], pooled: Pooled
) -> None:
    result = read_record.apply_async((2,), queue=QUEUE)
    wait_until(has_retried(pooled.worker, result.id), "the worker to look and retry")
    with Session(pooled.engine) as writer:
        writer.add(Record(id=2, name="late"))
        writer.commit()

    assert result.get(timeout=TIMEOUT) == {"id": 2, "name": "late"}
    assert result.retries is not None
    assert result.retries >= 1


def test_a_task_sent_on_commit_through_pgbouncer_finds_its_row(
    session: scoped_session[Session], pooled: Pooled
) -> None:
    with Session(pooled.engine) as writer:
        writer.add(Record(id=40, name="pooled"))
        writer.flush()
        result = read_record.apply_async_on_commit((40,), session=writer, queue=QUEUE)
        writer.commit()

    assert result.get(timeout=TIMEOUT) == {"id": 40, "name": "pooled"}
    assert result.retries == 0


def test_a_commit_through_pgbouncer_wakes_the_relay_listening_directly(
    session: scoped_session[Session], pooled: Pooled, unwatched_queue: str
) -> None:
    env = pooled.env | {"OUTBOX_RELAY_EVERY": "3600"}  # only a notice can wake it
    with running_relay(TMP_DIR / "relay-pgbouncer.log", env) as relay:
        wait_until(lambda: "LISTEN outbox_messages" in relay.log(), "the relay to listen")
        with Session(pooled.engine) as writer:
            writer.add(Record(id=41, name="pooled"))
            add_to_outbox(writer, read_record.name, [41], queue=unwatched_queue)
            writer.commit()  # its NOTIFY goes through PgBouncer

        wait_until(lambda: messages_waiting(unwatched_queue) == 1, "the relay's wake-up")


def test_the_statement_timeout_fires_through_pgbouncer(pooled: Pooled) -> None:
    result = end_attempt.apply_async(("sleep", 3.0), queue=QUEUE)

    with pytest.raises(Exception, match="QueryCanceled"):
        result.get(timeout=TIMEOUT)
    assert result.retries == 0
    assert end_attempt.apply_async(("succeed",), queue=QUEUE).get(timeout=TIMEOUT) == "succeed"

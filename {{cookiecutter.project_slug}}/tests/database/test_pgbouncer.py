"""The service through PgBouncer in transaction mode: DATABASE_URL pooled, DATABASE_DIRECT_URL not.

One PgBouncer of the module's own, with fewer server connections than the
worker has processes, so consecutive transactions of one process land on
different server connections. What a session kept (a prepared statement, a
startup option, a LISTEN) would be lost there.
"""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from celery import group
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, scoped_session

from {{ cookiecutter.package_name }}.config import settings
from {{ cookiecutter.package_name }}.database.engine import build_engine
from {{ cookiecutter.package_name }}.models import User
from {{ cookiecutter.package_name }}.outbox import add_to_outbox
from {{ cookiecutter.package_name }}.tasks import get_from_db

from ..support.broker_state import messages_waiting
from ..support.environment import PROJECT_ROOT, TMP_DIR, queue_of
from ..support.pgbouncer import running_pgbouncer
from ..support.probe_tasks import end_attempt, read_record
from ..support.processes import free_port, running_relay
from ..support.records import Record
from ..support.waiting import TIMEOUT, wait_until
from ..support.workers import ChildProcess, has_retried, own_worker

QUEUE = queue_of("pgbouncer")
# The role's default in the run's database, set by prestart on the direct URL.
STATEMENT_TIMEOUT = "1"
MANY = 2000


@dataclass
class Pooled:
    env: dict[str, str]
    worker: ChildProcess
    engine: Engine  # the tests' own writes, through PgBouncer as the app's


def prestart(env: dict[str, str], *options: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "{{ cookiecutter.package_name }}.prestart", *options],
        cwd=PROJECT_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def pooled(database_url: str, broker: str) -> Iterator[Pooled]:
    """A worker of four processes through PgBouncer, with a pool of two, and its settings.

    PgBouncer is in front of the server itself, even where ``database_url``
    already goes through a pooler (DATABASE_DIRECT_URL set).
    """
    direct_url = settings.direct_database_url
    direct = create_engine(direct_url, isolation_level="AUTOCOMMIT")
    with running_pgbouncer(direct_url) as bouncer, pytest.MonkeyPatch.context() as patch:
        env = {
            "DATABASE_URL": bouncer.url_to(direct_url),
            "DATABASE_DIRECT_URL": direct_url,
            "DB_STATEMENT_TIMEOUT": STATEMENT_TIMEOUT,
        }
        prestart(env)  # before PgBouncer opens a server connection: they all get it
        patch.setattr(settings, "database_direct_url", direct_url)
        engine = build_engine(env["DATABASE_URL"])
        try:
            with own_worker("pgbouncer", concurrency=4, env=env) as worker:
                yield Pooled(env, worker, engine)
        finally:
            engine.dispose()
            with direct.connect() as connection:
                connection.exec_driver_sql(
                    "DO $$ BEGIN EXECUTE format('ALTER ROLE CURRENT_USER IN DATABASE %%I"
                    " RESET statement_timeout', current_database()); END $$"
                )
            direct.dispose()


def test_migrations_use_the_direct_url_and_the_wait_for_them_the_pooled_one(
    database_url: str,
) -> None:
    nowhere = make_url(database_url).set(port=free_port()).render_as_string(hide_password=False)
    quickly = {"DB_WAIT_TIMEOUT": "1", "DB_CONNECT_TIMEOUT": "1"}

    prestart(quickly | {"DATABASE_URL": nowhere, "DATABASE_DIRECT_URL": database_url})
    prestart(
        quickly | {"DATABASE_URL": database_url, "DATABASE_DIRECT_URL": nowhere},
        "--wait-for-migrations",
        "0",
    )


def test_get_from_db_retries_until_a_commit_through_pgbouncer(
    session: scoped_session[Session], pooled: Pooled
) -> None:
    result = get_from_db.apply_async((2,), queue=QUEUE)
    wait_until(has_retried(pooled.worker, result.id), "the worker to look and retry")
    with Session(pooled.engine) as writer:
        writer.add(User(id=2, name="Grace Hopper", email="grace@example.com"))
        writer.commit()

    assert result.get(timeout=TIMEOUT)["name"] == "Grace Hopper"
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


def test_thousands_of_reads_through_two_server_connections_all_succeed(
    session: scoped_session[Session], pooled: Pooled
) -> None:
    session.add(User(id=7, name="Ada", email="ada@example.com"))
    session.commit()
    began = time.monotonic()

    results = group(get_from_db.s(7) for _ in range(MANY)).apply_async(queue=QUEUE)
    answers = results.get(timeout=120, propagate=False)

    errors = [answer for answer in answers if not isinstance(answer, dict)]
    assert errors == [], f"{len(errors)} of {MANY} failed, first: {errors[0]!r}"
    print(f"{MANY} get_from_db through PgBouncer: {time.monotonic() - began:.1f}s")

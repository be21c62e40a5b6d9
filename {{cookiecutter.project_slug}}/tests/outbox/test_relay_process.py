"""The outbox's command line and the relay loop, run as processes the way an operator runs them."""

import re
import time
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, scoped_session

from {{ cookiecutter.package_name }}.celery import app
from {{ cookiecutter.package_name }}.config import settings
from {{ cookiecutter.package_name }}.db import engine
from {{ cookiecutter.package_name }}.outbox import OutboxMessage, add_to_outbox
from {{ cookiecutter.package_name }}.outbox.publishing import BATCH_SIZE, relay_batch

from ..support.broker_state import messages_waiting
from ..support.environment import TMP_DIR
from ..support.liveness import alive, heartbeat_env, hung
from ..support.outbox_state import (
    add_messages,
    add_unpublishable,
    new_record,
    run_outbox_command,
    stored,
    stored_unsent,
)
from ..support.probe_tasks import read_record
from ..support.processes import running_relay
from ..support.tcp_proxy import TcpProxy
from ..support.waiting import TIMEOUT, wait_until


def test_status_dead_and_revive_from_the_command_line(session: scoped_session[Session]) -> None:
    bad = add_unpublishable(session, new_record(session))
    session.commit()
    for _ in range(settings.outbox_max_attempts):
        relay_batch(app)

    listed = run_outbox_command("dead")
    status = run_outbox_command("status")
    revived = run_outbox_command("revive", str(stored(bad).id))

    assert bad in listed.stdout
    assert "OverflowError" in listed.stdout
    assert status.returncode == 0, status.stdout
    assert status.stdout.startswith("unsent 0, dead 1, oldest unsent -")
    assert revived.stdout.strip() == "revived 1 message(s)"
    assert stored(bad).dead_at is None


def test_status_fails_once_the_oldest_unsent_message_is_too_old(
    session: scoped_session[Session],
) -> None:
    add_to_outbox(session, read_record.name, [new_record(session).id])
    session.commit()

    fresh = run_outbox_command("status", env={"OUTBOX_ALERT_AFTER": "3600"})
    # Older than the threshold below by the database's clock, which on SQLite
    # counts whole seconds: 2.1 s apart can read as 2 s, never as 1 s.
    time.sleep(2.1)
    stale = run_outbox_command("status", env={"OUTBOX_ALERT_AFTER": "1"})

    assert fresh.returncode == 0, fresh.stdout
    assert fresh.stdout.startswith("unsent 1, dead 0, oldest unsent ")
    assert stale.returncode == 1, stale.stdout


@pytest.mark.usefixtures("worker")
def test_sent_messages_are_deleted_after_the_retention_period(
    session: scoped_session[Session],
) -> None:
    record = new_record(session)
    old = [add_to_outbox(session, read_record.name, [record.id]) for _ in range(2)]
    session.commit()
    assert relay_batch(app).sent == 2
    # Older than the retention below by the database's clock, which counts
    # whole seconds on SQLite: a send at 0.0 s and a purge at 2.1 s read 0 and 2.
    time.sleep(3.1)
    recent = add_to_outbox(session, read_record.name, [record.id])
    session.commit()

    relayed = run_outbox_command("--once", env={"OUTBOX_RETENTION": "2"})

    assert relayed.returncode == 0, relayed.stderr
    remaining = session.scalars(select(OutboxMessage.task_id)).all()
    assert remaining == [recent], old


def test_sigterm_lets_the_batch_finish_and_nothing_is_published_twice(
    session: scoped_session[Session], unwatched_queue: str
) -> None:
    # Batches enough that a SIGTERM comes before the last one.
    messages = 4 * BATCH_SIZE
    add_messages(session, messages, unwatched_queue)
    env = {"OUTBOX_RELAY_EVERY": "60"}

    with running_relay(TMP_DIR / "relay-sigterm.log", env) as relay:
        # A first batch is on record: the relay is in the middle of its pass.
        wait_until(lambda: stored_unsent() < messages, "the relay to send a batch")
        relay.stop(timeout=TIMEOUT)
        log = relay.log()

    assert relay.process.returncode == 0, log
    assert "SIGTERM: stopping after this batch" in log
    assert "relay stopped" in log
    assert stored_unsent() > 0, "stopped before the end of its pass"
    assert run_outbox_command("--once").returncode == 0
    # Every message reached the broker exactly once.
    assert messages_waiting(unwatched_queue) == messages


def test_the_relay_loop_rides_out_a_database_outage(
    session: scoped_session[Session], database_url: str, database_proxy: TcpProxy
) -> None:
    env = {"DATABASE_URL": database_proxy.url_through(database_url), "OUTBOX_RELAY_EVERY": "0.2"}

    with running_relay(TMP_DIR / "relay-outage.log", env) as relay:
        database_proxy.stop()
        wait_until(lambda: "cannot relay" in relay.log(), "a pass to fail")
        task_id = add_to_outbox(session, read_record.name, [new_record(session).id])
        session.commit()
        assert not relay.exited(), "the relay died"
        database_proxy.start()
        wait_until(lambda: stored(task_id).sent_at is not None, "the relay to send it")
        relay.stop(timeout=TIMEOUT)

    assert relay.process.returncode == 0, relay.log()
    assert "relaying again" in relay.log()


def sent_by(log: str) -> int:
    return sum(int(count) for count in re.findall(r"sent (\d+) message\(s\)", log))


@pytest.mark.usefixtures("database_server")  # SQLite: one relay (docs/design.md)
def test_two_relays_share_the_work_and_publish_each_message_once(
    session: scoped_session[Session], unwatched_queue: str
) -> None:
    messages = 5 * BATCH_SIZE
    env = {"OUTBOX_RELAY_EVERY": "0.2"}
    with (
        running_relay(TMP_DIR / "relay-one.log", env) as one,
        running_relay(TMP_DIR / "relay-two.log", env) as two,
    ):
        one.wait_until(lambda: "relay started" in one.log(), "one to start", TIMEOUT)
        two.wait_until(lambda: "relay started" in two.log(), "two to start", TIMEOUT)
        # One commit: both relays wake to the same work.
        add_messages(session, messages, unwatched_queue)
        wait_until(lambda: stored_unsent() == 0, "the relays to send everything")
        one.stop(timeout=TIMEOUT)
        two.stop(timeout=TIMEOUT)

    # Each message reached the broker exactly once, and both relays took part.
    assert messages_waiting(unwatched_queue) == messages
    assert sent_by(one.log()) > 0, "the first relay sent nothing"
    assert sent_by(two.log()) > 0, "the second relay sent nothing"


def test_a_commit_wakes_the_relay_on_postgresql_and_its_next_pass_elsewhere(
    session: scoped_session[Session], unwatched_queue: str
) -> None:
    notified = engine.dialect.name == "postgresql"
    # On PostgreSQL the next pass is an hour away: only the commit can wake it.
    every = "3600" if notified else "0.2"
    add_messages(session, 1, unwatched_queue)
    with running_relay(TMP_DIR / "relay-wakes.log", {"OUTBOX_RELAY_EVERY": every}) as relay:
        # The first pass sends the first message, then the relay sleeps.
        wait_until(lambda: messages_waiting(unwatched_queue) == 1, "the first pass")
        listening = "as each message commits (LISTEN outbox_messages)" in relay.log()
        assert listening == notified, relay.log()
        assert f"and every {every}s" in relay.log() or f"a pass every {every}s" in relay.log()

        add_messages(session, 1, unwatched_queue)

        wait_until(lambda: messages_waiting(unwatched_queue) == 2, "the relay's wake-up")


@pytest.mark.usefixtures("broker", "database_url")
def test_the_relay_beats_from_its_loop_and_is_dead_once_it_hangs(tmp_path: Path) -> None:
    heartbeat = str(tmp_path / "heartbeat")
    env = heartbeat_env(heartbeat) | {"OUTBOX_RELAY_EVERY": "0.2"}
    with running_relay(TMP_DIR / "relay-heartbeat.log", env) as relay:
        wait_until(lambda: alive(heartbeat), "the relay's first heartbeat")
        with hung(relay):
            wait_until(lambda: not alive(heartbeat), "the probe to call it dead")
        wait_until(lambda: alive(heartbeat), "the relay to beat again")

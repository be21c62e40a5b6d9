"""The transactional outbox, with a real worker, broker and database.

A message is sent only if its transaction commits, survives a broker that is
down at commit time, and runs once even when the relay runs again.
"""

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from kombu import Exchange, Queue
from sqlalchemy import delete, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, scoped_session

from {{ cookiecutter.package_name }}.celery import app
from {{ cookiecutter.package_name }}.config import settings
from {{ cookiecutter.package_name }}.db import engine
from {{ cookiecutter.package_name }}.models import OutboxMessage, User
from {{ cookiecutter.package_name }}.outbox import add_to_outbox
from {{ cookiecutter.package_name }}.outbox.relay import (
    dead_letters,
    relay_batch,
    revive,
    unsent_oldest_first,
)
from {{ cookiecutter.package_name }}.tasks import get_from_db

from .broker_state import messages_waiting, private_redis
from .conftest import PROJECT_ROOT, RUN_ID, wait_until
from .task_results import deliveries, result_of
from .tcp_proxy import TcpProxy
from .worker_process import WorkerProcess

pytestmark = pytest.mark.usefixtures("worker")

TIMEOUT = 60
# For broker URLs that leave the port out.
DEFAULT_PORTS = {"redis": 6379, "amqp": 5672}


@pytest.fixture
def outbox(session: scoped_session[Session]) -> Iterator[scoped_session[Session]]:
    """``session``, with the outbox empty before and after the test."""

    def empty_the_outbox() -> None:
        session.remove()
        session.execute(delete(OutboxMessage))
        session.commit()
        session.remove()

    empty_the_outbox()
    yield session
    empty_the_outbox()


def add_user(session: scoped_session[Session], name: str = "Ada") -> User:
    """A user, flushed so it has an id, not committed."""
    user = User(name=name, email=f"{name.lower()}@example.com")
    session.add(user)
    session.flush()
    return user


def user_data(user: User) -> dict[str, Any]:
    return {"id": user.id, "name": user.name, "email": user.email}


def stored(task_id: str) -> OutboxMessage:
    """The message as committed, read in a transaction of its own."""
    with Session(engine) as session:
        query = select(OutboxMessage).where(OutboxMessage.task_id == task_id)
        return session.scalars(query).one()


def add_messages(session: scoped_session[Session], count: int, queue: str) -> None:
    """Commit ``count`` messages for ``queue``, about one new user."""
    user = add_user(session)
    for _ in range(count):
        add_to_outbox(session, get_from_db.name, [user.id], queue=queue)
    session.commit()


def stored_unsent() -> int:
    with Session(engine) as session:
        query = select(func.count()).where(OutboxMessage.sent_at.is_(None))
        return session.execute(query).scalar_one()


def run_outbox_command(
    *arguments: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m ...outbox ...``, as an operator would run it."""
    return subprocess.run(
        [sys.executable, "-m", "{{ cookiecutter.package_name }}.outbox", *arguments],
        cwd=PROJECT_ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


def run_relay_once(broker_url: str) -> subprocess.CompletedProcess[str]:
    return run_outbox_command("--once", env={"CELERY_BROKER_URL": broker_url})


def test_a_committed_message_is_sent_to_the_worker(
    outbox: scoped_session[Session], worker: WorkerProcess
) -> None:
    user = add_user(outbox)
    task_id = add_to_outbox(outbox, get_from_db.name, [user.id])
    outbox.commit()

    assert relay_batch().sent == 1
    assert stored(task_id).sent_at is not None
    assert result_of(task_id, worker) == user_data(user)
    assert relay_batch().sent == 0


def test_a_rolled_back_message_is_never_sent(outbox: scoped_session[Session]) -> None:
    user = add_user(outbox)
    add_to_outbox(outbox, get_from_db.name, [user.id])
    outbox.rollback()

    assert outbox.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    assert relay_batch().sent == 0


@pytest.mark.parametrize(
    ("args", "kwargs", "error"),
    [
        ([object()], None, TypeError),
        ([], {"when": datetime.now(UTC)}, TypeError),
        ([float("nan")], None, ValueError),
        ("7", None, TypeError),
    ],
)
def test_arguments_json_cannot_hold_are_refused_at_once(
    outbox: scoped_session[Session],
    args: Sequence[Any],
    kwargs: Mapping[str, Any] | None,
    error: type[Exception],
) -> None:
    with pytest.raises(error):
        add_to_outbox(outbox, get_from_db.name, args, kwargs)
    assert not outbox.new


@pytest.mark.parametrize(
    "options",
    [
        {"countdown": "soon"},
        {"countdown": 10**12},
        {"countdown": -1},
        {"countdown": float("inf")},
        {"expires": float("nan")},
        {"expires": 10**12},
        {"queue": 7},
        {"queue": ""},
        {"queue": "q" * 256},
        {"eta": "tomorrow"},
        {"priority": 2.5},
        {"priority": 256},
        {"priority": True},
    ],
)
def test_options_celery_could_not_publish_are_refused_at_once(
    outbox: scoped_session[Session], options: dict[str, Any]
) -> None:
    with pytest.raises((TypeError, ValueError)):
        add_to_outbox(outbox, get_from_db.name, [1], **options)
    assert not outbox.new


def unpublishable(session: scoped_session[Session], user: User) -> str:
    """A message Celery cannot publish: its countdown overflows any date.

    ``add_to_outbox`` refuses such options; a row written some other way (an
    older version, a hand-made insert) is not checked.
    """
    task_id = str(uuid.uuid4())
    session.add(
        OutboxMessage(
            task_id=task_id,
            task_name=get_from_db.name,
            args=[user.id],
            kwargs={},
            options={"countdown": 10**12},
        )
    )
    session.flush()
    return task_id


def test_a_message_that_cannot_be_published_never_holds_up_the_rest(
    outbox: scoped_session[Session], worker: WorkerProcess, caplog: pytest.LogCaptureFixture
) -> None:
    user = add_user(outbox)
    before = add_to_outbox(outbox, get_from_db.name, [user.id])
    bad = unpublishable(outbox, user)
    behind = add_to_outbox(outbox, get_from_db.name, [user.id])
    outbox.commit()

    batches = [relay_batch() for _ in range(settings.outbox_max_attempts)]

    assert [batch.sent for batch in batches] == [2] + [0] * (settings.outbox_max_attempts - 1)
    assert [batch.failed for batch in batches] == [1] * settings.outbox_max_attempts
    assert stored(before).sent_at is not None
    assert stored(behind).sent_at is not None
    assert result_of(behind, worker) == user_data(user)
    failed = stored(bad)
    assert failed.sent_at is None
    assert failed.attempts == settings.outbox_max_attempts
    assert failed.last_error is not None
    assert "OverflowError" in failed.last_error
    # A dead letter: logged, listed, no longer tried, until revived.
    assert failed.dead_at is not None
    assert f"outbox message {failed.id} ({get_from_db.name}[{bad}]) is a dead letter" in caplog.text
    assert [message.task_id for message in dead_letters()] == [bad]
    assert relay_batch().failed == 0
    assert revive([failed.id]) == 1
    assert relay_batch().failed == 1


def test_status_lists_and_revive_from_the_command_line(outbox: scoped_session[Session]) -> None:
    user = add_user(outbox)
    bad = unpublishable(outbox, user)
    outbox.commit()
    for _ in range(settings.outbox_max_attempts):
        relay_batch()

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
    outbox: scoped_session[Session],
) -> None:
    user = add_user(outbox)
    add_to_outbox(outbox, get_from_db.name, [user.id])
    outbox.commit()

    fresh = run_outbox_command("status", env={"OUTBOX_ALERT_AFTER": "3600"})
    time.sleep(1.1)  # the message must be older than the threshold, by the database's clock
    stale = run_outbox_command("status", env={"OUTBOX_ALERT_AFTER": "1"})

    assert fresh.returncode == 0, fresh.stdout
    assert fresh.stdout.startswith("unsent 1, dead 0, oldest unsent ")
    assert stale.returncode == 1, stale.stdout


def test_a_message_committed_while_the_broker_is_down_runs_once_it_is_back(
    outbox: scoped_session[Session], broker: str, worker: WorkerProcess
) -> None:
    if broker.startswith("sqla+"):
        pytest.skip("the embedded SQLite broker cannot be down: it is a file, not a server")
    proxy = TcpProxy.in_front_of(broker, DEFAULT_PORTS[make_url(broker).drivername])
    # Started once to get a port, then stopped: the broker is down at that address.
    proxy.start().stop()
    broker_through_proxy = proxy.url_through(broker)
    user = add_user(outbox)
    task_id = add_to_outbox(outbox, get_from_db.name, [user.id])
    outbox.commit()

    try:
        while_down = run_relay_once(broker_through_proxy)
        assert while_down.returncode != 0, while_down.stderr
        assert "broker unreachable, 1 message(s) stay in the outbox" in while_down.stderr
        assert stored(task_id).sent_at is None

        proxy.start()
        once_back = run_relay_once(broker_through_proxy)
        assert once_back.returncode == 0, once_back.stderr
        assert stored(task_id).sent_at is not None
        assert result_of(task_id, worker) == user_data(user)

        again = run_relay_once(broker_through_proxy)
        assert again.returncode == 0, again.stderr
        assert "sent 0 message(s)" in again.stderr
    finally:
        proxy.stop()

    # The worker takes tasks in queue order: once a task sent now has run, a
    # duplicate published by any relay run above would have been received too.
    assert get_from_db.delay(user.id).get(timeout=TIMEOUT) == user_data(user)
    assert deliveries(task_id, worker) == 1


def test_relay_skips_messages_another_relay_has_locked(
    outbox: scoped_session[Session], database_url: str
) -> None:
    if make_url(database_url).get_backend_name() == "sqlite":
        pytest.skip("needs a database server: SQLite has no row locks (run one relay)")
    user = add_user(outbox)
    locked = add_to_outbox(outbox, get_from_db.name, [user.id])
    free = add_to_outbox(outbox, get_from_db.name, [user.id])
    outbox.commit()

    pool = ThreadPoolExecutor(max_workers=1)
    with Session(engine) as other_relay:
        query = select(OutboxMessage).where(OutboxMessage.task_id == locked)
        other_relay.scalars(query.with_for_update()).one()
        relay = pool.submit(lambda: relay_batch().sent)
        try:
            # Without SKIP LOCKED the relay would wait for the lock, not return.
            sent = relay.result(timeout=10)
        finally:
            other_relay.rollback()
            pool.shutdown()

    assert sent == 1
    assert stored(locked).sent_at is None
    assert stored(free).sent_at is not None


def test_a_session_of_your_own_stores_the_message_with_its_data(
    outbox: scoped_session[Session],
) -> None:
    with Session(engine) as own:
        user = User(name="Own", email="own@example.com")
        own.add(user)
        own.flush()
        user_id = user.id
        result = get_from_db.apply_async_via_outbox((user_id,), session=own)
        assert not outbox().in_transaction(), "db_session was not used"
        own.commit()

    assert stored(result.id).args == [user_id]


@dataclass
class RefusingBroker:
    queue: str
    relay: Callable[[], str]  # one pass; returns what the relay said


@pytest.fixture
def refusing_broker(broker: str) -> Iterator[RefusingBroker]:
    """A queue whose broker refuses every message published to it, and a relay pass.

    RabbitMQ: a queue limited to no message at all that rejects what would go
    over the limit (it nacks the publish), declared by the relay in this
    process. Redis: a server of the test's own with no memory to spare (it
    answers every write with an OOM error), which the relay command uses.
    """
    if broker.startswith("sqla+"):
        pytest.skip("the embedded SQLite broker cannot refuse a message: it is a file")
    name = f"test-{RUN_ID}-refusing"
    if not broker.startswith("amqp"):
        with private_redis("--maxmemory", "1", "--maxmemory-policy", "noeviction") as url:
            yield RefusingBroker(name, lambda: run_relay_once(url).stderr)
        return
    queue = Queue(
        name,
        Exchange(name),
        routing_key=name,
        queue_arguments={"x-max-length": 0, "x-overflow": "reject-publish"},
    )
    app.amqp.queues[name] = queue
    try:
        yield RefusingBroker(name, lambda: str(relay_batch()))
    finally:
        del app.amqp.queues[name]
        with app.connection_for_write() as connection:
            queue.bind(connection.default_channel).delete()


def test_a_message_the_broker_refuses_is_not_marked_sent(
    outbox: scoped_session[Session], refusing_broker: RefusingBroker
) -> None:
    user = add_user(outbox)
    task_id = add_to_outbox(outbox, get_from_db.name, [user.id], queue=refusing_broker.queue)
    outbox.commit()

    said = refusing_broker.relay()

    message = stored(task_id)
    assert message.sent_at is None
    if message.attempts:  # RabbitMQ refused this message: its attempt counts
        assert "MessageNacked" in str(message.last_error)
    else:  # Redis refuses every write: the broker cannot take messages at all
        assert "broker unreachable, 1 message(s) stay in the outbox" in said
        assert "maxmemory" in said


def test_a_pass_while_the_application_writes_publishes_each_message_once(
    outbox: scoped_session[Session], unwatched_queue: str
) -> None:
    messages = 50
    add_messages(outbox, messages, unwatched_queue)
    writing = threading.Event()
    writing.set()

    def write_users(writer: int) -> None:
        # The application at work: short write transactions, one after another.
        n = 0
        while writing.is_set():
            n += 1
            with Session(engine) as session:
                session.add(User(name="writer", email=f"writer{writer}-{n}@example.com"))
                session.commit()

    with ThreadPoolExecutor(max_workers=2) as writers:
        running = [writers.submit(write_users, writer) for writer in range(2)]
        try:
            # Passes as the relay loop makes them (a failed pass is tried again),
            # a message at a time, so that many of them meet a writer.
            for _ in range(4 * messages):
                with contextlib.suppress(DBAPIError):
                    relay_batch(limit=1)
                if stored_unsent() == 0:
                    break
        finally:
            writing.clear()
        for writer in running:
            writer.result()

    assert stored_unsent() == 0
    assert messages_waiting(unwatched_queue) == messages


def test_sent_messages_are_deleted_after_the_retention_period(
    outbox: scoped_session[Session],
) -> None:
    user = add_user(outbox)
    old = [add_to_outbox(outbox, get_from_db.name, [user.id]) for _ in range(2)]
    outbox.commit()
    assert relay_batch().sent == 2
    time.sleep(2.1)  # older than the retention below, by the database's clock (whole seconds)
    recent = add_to_outbox(outbox, get_from_db.name, [user.id])
    outbox.commit()

    relayed = run_outbox_command("--once", env={"OUTBOX_RETENTION": "2"})

    assert relayed.returncode == 0, relayed.stderr
    remaining = outbox.scalars(select(OutboxMessage.task_id)).all()
    assert remaining == [recent], old


INDEX_PLANS = {
    # dialect: (statement before EXPLAIN, EXPLAIN prefix)
    "postgresql": ("SET enable_seqscan = off", "EXPLAIN "),
    "mysql": (None, "EXPLAIN "),
    "sqlite": (None, "EXPLAIN QUERY PLAN "),
}


def test_the_relays_query_is_answered_by_its_index_in_order(
    outbox: scoped_session[Session],
) -> None:
    user = add_user(outbox)
    for _ in range(200):
        add_to_outbox(outbox, get_from_db.name, [user.id])
    outbox.commit()
    dialect = engine.dialect
    query = unsent_oldest_first(100).compile(
        dialect=dialect, compile_kwargs={"literal_binds": True}
    )
    before, explain = INDEX_PLANS[dialect.name if dialect.name != "mariadb" else "mysql"]

    with engine.connect() as connection:
        if before:
            connection.exec_driver_sql(before)
        plan = " ".join(
            " ".join(map(str, row)) for row in connection.exec_driver_sql(f"{explain}{query}")
        )
        connection.rollback()

    assert "ix_outbox_messages_unsent" in plan, plan
    for sorting in ("Sort", "filesort", "TEMP B-TREE"):
        assert sorting not in plan, plan


def test_sigterm_lets_the_batch_finish_and_nothing_is_published_twice(
    outbox: scoped_session[Session], unwatched_queue: str
) -> None:
    messages = 300
    add_messages(outbox, messages, unwatched_queue)
    relay = subprocess.Popen(
        [sys.executable, "-m", "{{ cookiecutter.package_name }}.outbox"],
        cwd=PROJECT_ROOT,
        env={**os.environ, "OUTBOX_RELAY_EVERY": "60"},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # A first batch is on record: the relay is in the middle of its pass.
        deadline = time.monotonic() + TIMEOUT
        while stored_unsent() == messages:
            assert time.monotonic() < deadline, "the relay sent nothing"
            time.sleep(0.01)
        relay.send_signal(signal.SIGTERM)
        _, log = relay.communicate(timeout=TIMEOUT)
    finally:
        relay.kill()

    assert relay.returncode == 0, log
    assert "SIGTERM: stopping after this batch" in log
    assert "relay stopped" in log
    left = stored_unsent()
    assert left > 0, "stopped before the end of its pass"
    assert run_outbox_command("--once").returncode == 0
    # Every message reached the broker exactly once.
    assert messages_waiting(unwatched_queue) == messages


def test_the_relay_loop_rides_out_a_database_outage(
    outbox: scoped_session[Session], database_url: str, tmp_path: Path
) -> None:
    backend = make_url(database_url).get_backend_name()
    if backend == "sqlite":
        pytest.skip("needs a database server; sqlite has no connection to cut")
    proxy = TcpProxy.in_front_of(database_url, {"postgresql": 5432, "mysql": 3306}[backend])
    through_proxy = proxy.start().url_through(database_url)
    log_path = tmp_path / "relay.log"
    with log_path.open("w") as log_file:
        relay = subprocess.Popen(
            [sys.executable, "-m", "{{ cookiecutter.package_name }}.outbox"],
            cwd=PROJECT_ROOT,
            env={**os.environ, "DATABASE_URL": through_proxy, "OUTBOX_RELAY_EVERY": "0.2"},
            stderr=log_file,
        )
    try:
        proxy.stop()
        wait_until(lambda: "cannot relay" in log_path.read_text(), "a pass to fail")
        user = add_user(outbox)
        task_id = add_to_outbox(outbox, get_from_db.name, [user.id])
        outbox.commit()
        assert relay.poll() is None, "the relay died"
        proxy.start()
        wait_until(lambda: stored(task_id).sent_at is not None, "the relay to send it")
    finally:
        relay.send_signal(signal.SIGTERM)
        relay.wait(TIMEOUT)
        proxy.stop()

    log = log_path.read_text()
    assert relay.returncode == 0, log
    assert "relaying again" in log

"""The relay's batches: what is sent, what is refused, and what two relays or writers do.

A message is sent only once committed, survives a broker that is down at
commit time, and reaches the broker once even when the relay runs again.
"""

import contextlib
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from kombu import Exchange, Queue
from sqlalchemy import event, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, scoped_session

from {{ cookiecutter.package_name }}.celery import app
from {{ cookiecutter.package_name }}.config import settings
from {{ cookiecutter.package_name }}.db import engine
from {{ cookiecutter.package_name }}.outbox import OutboxMessage, add_to_outbox
from {{ cookiecutter.package_name }}.outbox.commands import dead_letters, revive
from {{ cookiecutter.package_name }}.outbox.loop import Relay
from {{ cookiecutter.package_name }}.outbox.publishing import relay_batch, unsent_oldest_first

from ..support.broker_state import messages_waiting, private_redis
from ..support.environment import queue_of
from ..support.outbox_state import (
    add_messages,
    add_unpublishable,
    new_record,
    run_outbox_command,
    stored,
    stored_unsent,
)
from ..support.probe_tasks import read_record
from ..support.records import Record
from ..support.results import deliveries, result_of
from ..support.tcp_proxy import TcpProxy
from ..support.waiting import TIMEOUT
from ..support.workers import ChildProcess


def record_data(record: Record) -> dict[str, object]:
    return {"id": record.id, "name": record.name}


def test_a_committed_message_is_sent_to_the_worker(
    session: scoped_session[Session], worker: ChildProcess
) -> None:
    record = new_record(session)
    task_id = add_to_outbox(session, read_record.name, [record.id])
    session.commit()

    assert relay_batch(app).sent == 1
    assert stored(task_id).sent_at is not None
    assert result_of(task_id, worker) == record_data(record)
    assert relay_batch(app).sent == 0


def test_a_message_that_cannot_be_published_never_holds_up_the_rest(
    session: scoped_session[Session], worker: ChildProcess, caplog: pytest.LogCaptureFixture
) -> None:
    record = new_record(session)
    before = add_to_outbox(session, read_record.name, [record.id])
    bad = add_unpublishable(session, record)
    behind = add_to_outbox(session, read_record.name, [record.id])
    session.commit()

    batches = [relay_batch(app) for _ in range(settings.outbox_max_attempts)]

    assert [batch.sent for batch in batches] == [2] + [0] * (settings.outbox_max_attempts - 1)
    assert [batch.failed for batch in batches] == [1] * settings.outbox_max_attempts
    assert stored(before).sent_at is not None
    assert stored(behind).sent_at is not None
    assert result_of(behind, worker) == record_data(record)
    failed = stored(bad)
    assert failed.sent_at is None
    assert failed.attempts == settings.outbox_max_attempts
    assert failed.last_error is not None
    assert "OverflowError" in failed.last_error
    # A dead letter: logged, listed, no longer tried, until revived.
    assert failed.dead_at is not None
    assert f"outbox message {failed.id} ({read_record.name}[{bad}]) is a dead letter" in caplog.text
    assert [message.task_id for message in dead_letters()] == [bad]
    assert relay_batch(app).failed == 0
    assert revive([failed.id]) == 1
    assert relay_batch(app).failed == 1


def test_a_message_committed_while_the_broker_is_down_runs_once_it_is_back(
    session: scoped_session[Session], broker_server: str, worker: ChildProcess
) -> None:
    proxy = TcpProxy.in_front_of(broker_server)
    # Started once to get a port, then stopped: the broker is down at that address.
    proxy.start().stop()
    relay_once = {"CELERY_BROKER_URL": proxy.url_through(broker_server)}
    record = new_record(session)
    task_id = add_to_outbox(session, read_record.name, [record.id])
    session.commit()

    try:
        while_down = run_outbox_command("--once", env=relay_once)
        assert while_down.returncode != 0, while_down.stderr
        assert "broker unreachable, 1 message(s) stay in the outbox" in while_down.stderr
        assert stored(task_id).sent_at is None

        proxy.start()
        once_back = run_outbox_command("--once", env=relay_once)
        assert once_back.returncode == 0, once_back.stderr
        assert stored(task_id).sent_at is not None
        assert result_of(task_id, worker) == record_data(record)

        again = run_outbox_command("--once", env=relay_once)
        assert again.returncode == 0, again.stderr
        assert "sent 0 message(s)" in again.stderr
    finally:
        proxy.stop()

    # The worker takes tasks in queue order: once a task sent now has run, a
    # duplicate published by any relay run above would have been received too.
    assert read_record.delay(record.id).get(timeout=TIMEOUT) == record_data(record)
    assert deliveries(task_id, worker) == 1


@pytest.mark.usefixtures("database_server")
def test_relay_skips_messages_another_relay_has_locked(session: scoped_session[Session]) -> None:
    record = new_record(session)
    locked = add_to_outbox(session, read_record.name, [record.id])
    free = add_to_outbox(session, read_record.name, [record.id])
    session.commit()

    pool = ThreadPoolExecutor(max_workers=1)
    with Session(engine) as other_relay:
        query = select(OutboxMessage).where(OutboxMessage.task_id == locked)
        other_relay.scalars(query.with_for_update()).one()
        relay = pool.submit(lambda: relay_batch(app).sent)
        try:
            # Without SKIP LOCKED the relay would wait for the lock, not return.
            sent = relay.result(timeout=10)
        finally:
            other_relay.rollback()
            pool.shutdown()

    assert sent == 1
    assert stored(locked).sent_at is None
    assert stored(free).sent_at is not None


@dataclass
class RefusingBroker:
    queue: str
    relay: Callable[[], str]  # one pass; returns what the relay said


@pytest.fixture
def refusing_broker(broker_server: str) -> Iterator[RefusingBroker]:
    """A queue whose broker refuses every message published to it, and a relay pass.

    RabbitMQ: a queue limited to no message that rejects what would go over
    (it nacks the publish), declared by the relay in this process. Redis: a
    server of the test's own with no memory to spare, used by the relay command.
    """
    name = queue_of("refusing")
    if not broker_server.startswith("amqp"):
        with private_redis("--maxmemory", "1", "--maxmemory-policy", "noeviction") as url:
            yield RefusingBroker(
                name, lambda: run_outbox_command("--once", env={"CELERY_BROKER_URL": url}).stderr
            )
        return
    queue = Queue(
        name,
        Exchange(name),
        routing_key=name,
        queue_arguments={"x-max-length": 0, "x-overflow": "reject-publish"},
    )
    app.amqp.queues[name] = queue
    try:
        yield RefusingBroker(name, lambda: str(relay_batch(app)))
    finally:
        del app.amqp.queues[name]
        with app.connection_for_write() as connection:
            queue.bind(connection.default_channel).delete()


def test_a_message_the_broker_refuses_is_not_marked_sent(
    session: scoped_session[Session], refusing_broker: RefusingBroker, unwatched_queue: str
) -> None:
    record = new_record(session)
    before = add_to_outbox(session, read_record.name, [record.id], queue=unwatched_queue)
    task_id = add_to_outbox(session, read_record.name, [record.id], queue=refusing_broker.queue)
    behind = add_to_outbox(session, read_record.name, [record.id], queue=unwatched_queue)
    session.commit()

    said = refusing_broker.relay()

    message = stored(task_id)
    assert message.sent_at is None
    if message.attempts:  # RabbitMQ refused this message alone: its attempt counts
        assert "MessageNacked" in str(message.last_error)
        # Confirmed in the same batch, the others are sent.
        assert stored(before).sent_at is not None
        assert stored(behind).sent_at is not None
    else:  # Redis refuses every write: the broker cannot take messages at all
        assert "broker unreachable, 3 message(s) stay in the outbox" in said
        assert "maxmemory" in said
        assert stored(before).sent_at is None
        assert stored(behind).sent_at is None


def test_an_idle_pass_costs_the_database_one_indexed_query(
    session: scoped_session[Session], broker: str
) -> None:
    relay = Relay(app, every=1)
    statements: list[str] = []

    def count(*arguments: Any) -> None:
        statements.append(arguments[2])

    try:
        relay.one_pass()  # the first pass also deletes sent messages and checks the age
        event.listen(engine, "before_cursor_execute", count)
        try:
            relay.one_pass()
        finally:
            event.remove(engine, "before_cursor_execute", count)
    finally:
        relay.wakeup.close()

    # The relay's query, whose plan the test below checks (SQLite's BEGIN
    # IMMEDIATE goes through the cursor too, but reads nothing).
    queries = [statement for statement in statements if not statement.startswith("BEGIN")]
    assert len(queries) == 1, statements
    assert "FROM outbox_messages" in queries[0]


def test_a_pass_while_the_application_writes_publishes_each_message_once(
    session: scoped_session[Session], unwatched_queue: str
) -> None:
    messages = 50
    add_messages(session, messages, unwatched_queue)
    writing = threading.Event()
    writing.set()

    def write_records() -> None:
        # The application at work: short write transactions, one after another.
        while writing.is_set():
            with Session(engine) as own:
                own.add(Record(name="writer"))
                own.commit()

    with ThreadPoolExecutor(max_workers=2) as writers:
        running = [writers.submit(write_records) for _ in range(2)]
        try:
            # Passes as the relay loop makes them (a failed pass is tried again),
            # a message at a time, so that many of them meet a writer.
            for _ in range(4 * messages):
                with contextlib.suppress(DBAPIError):
                    relay_batch(app, limit=1)
                if stored_unsent() == 0:
                    break
        finally:
            writing.clear()
        for writer in running:
            writer.result()

    assert stored_unsent() == 0
    assert messages_waiting(unwatched_queue) == messages


INDEX_PLANS = {
    # dialect: (statement before EXPLAIN, EXPLAIN prefix)
    "postgresql": ("SET enable_seqscan = off", "EXPLAIN "),
    "mysql": (None, "EXPLAIN "),
    "sqlite": (None, "EXPLAIN QUERY PLAN "),
}


def test_the_relays_query_is_answered_by_its_index_in_order(
    session: scoped_session[Session],
) -> None:
    record = new_record(session)
    for _ in range(200):
        add_to_outbox(session, read_record.name, [record.id])
    session.commit()
    dialect = engine.dialect
    query = unsent_oldest_first(100).compile(
        dialect=dialect, compile_kwargs={"literal_binds": True}
    )
    before, explain = INDEX_PLANS[make_url(str(engine.url)).get_backend_name()]

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

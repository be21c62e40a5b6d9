"""The transactional outbox, with a real worker, broker and database.

A message is sent only if its transaction commits, survives a broker that is
down at commit time, and runs once even when the relay runs again.
"""

import ast
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
from celery.backends.rpc import RPCBackend
from celery.result import AsyncResult
from sqlalchemy import delete, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, scoped_session

from {{ cookiecutter.package_name }}.celery import app
from {{ cookiecutter.package_name }}.db import engine
from {{ cookiecutter.package_name }}.models import OutboxMessage, User
from {{ cookiecutter.package_name }}.outbox import add_to_outbox, relay_pending
from {{ cookiecutter.package_name }}.tasks import get_from_db
from {{ cookiecutter.package_name }}.testing import WorkerProcess

from .conftest import PROJECT_ROOT
from .tcp_proxy import TcpProxy

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


def run_relay_once(broker_url: str) -> subprocess.CompletedProcess[str]:
    """``python -m ...outbox --once``, as an operator would run it."""
    return subprocess.run(
        [sys.executable, "-m", "{{ cookiecutter.package_name }}.outbox", "--once"],
        cwd=PROJECT_ROOT,
        env={**os.environ, "CELERY_BROKER_URL": broker_url},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


def result_of(task_id: str, worker: WorkerProcess) -> object:
    """The task's return value, once it has run without a retry."""
    if isinstance(app.backend, RPCBackend):
        # rpc:// replies to the process that published the task, here the relay
        # subprocess, so only the worker's log can tell this test the result.
        return result_in_log(task_id, worker)
    result: AsyncResult[Any] = AsyncResult(task_id, app=app)
    value = result.get(timeout=TIMEOUT)
    assert result.retries == 0
    return value


def result_in_log(task_id: str, worker: WorkerProcess) -> object:
    marker = f"[{task_id}] succeeded in "
    deadline = time.monotonic() + TIMEOUT
    while marker not in (log := worker.log()):
        assert time.monotonic() < deadline, f"task {task_id} did not succeed:\n{log}"
        time.sleep(0.1)
    line = next(line for line in log.splitlines() if marker in line)
    # "... succeeded in 0.01s: {'id': 1, ...}"
    return ast.literal_eval(line.split(marker, 1)[1].split(": ", 1)[1])


def deliveries(task_id: str, worker: WorkerProcess) -> int:
    """How often the worker received the task: a duplicate or a retry adds one."""
    return worker.log().count(f"[{task_id}] received")


def test_a_committed_message_is_sent_to_the_worker(
    outbox: scoped_session[Session], worker: WorkerProcess
) -> None:
    user = add_user(outbox)
    task_id = add_to_outbox(outbox, get_from_db.name, [user.id])
    outbox.commit()

    assert relay_pending() == 1
    assert stored(task_id).sent_at is not None
    assert result_of(task_id, worker) == user_data(user)
    assert relay_pending() == 0


def test_a_rolled_back_message_is_never_sent(outbox: scoped_session[Session]) -> None:
    user = add_user(outbox)
    add_to_outbox(outbox, get_from_db.name, [user.id])
    outbox.rollback()

    assert outbox.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    assert relay_pending() == 0


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
    [{"countdown": "soon"}, {"queue": 7}, {"eta": "tomorrow"}, {"priority": 2.5}],
)
def test_options_celery_could_not_publish_are_refused_at_once(
    outbox: scoped_session[Session], options: dict[str, Any]
) -> None:
    with pytest.raises((TypeError, ValueError)):
        add_to_outbox(outbox, get_from_db.name, [1], **options)
    assert not outbox.new


def test_a_failed_publish_keeps_what_was_sent_before_it(outbox: scoped_session[Session]) -> None:
    user = add_user(outbox)
    sent_first = add_to_outbox(outbox, get_from_db.name, [user.id])
    # add_to_outbox refuses such options; a row written some other way is not
    # checked, and Celery cannot publish it: a countdown must be a number.
    unpublishable = "unpublishable-task-id"
    outbox.add(
        OutboxMessage(
            task_id=unpublishable,
            task_name=get_from_db.name,
            args=[user.id],
            kwargs={},
            options={"countdown": "soon"},
        )
    )
    outbox.flush()
    behind_it = add_to_outbox(outbox, get_from_db.name, [user.id])
    outbox.commit()

    with pytest.raises(TypeError):
        relay_pending()

    assert stored(sent_first).sent_at is not None
    assert stored(unpublishable).sent_at is None
    assert stored(behind_it).sent_at is None


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
        relay = pool.submit(relay_pending)
        try:
            # Without SKIP LOCKED the relay would wait for the lock, not return.
            sent = relay.result(timeout=10)
        finally:
            other_relay.rollback()
            pool.shutdown()

    assert sent == 1
    assert stored(locked).sent_at is None
    assert stored(free).sent_at is not None

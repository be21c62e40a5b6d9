"""A Redis restart loses no queued task; the worker and the relay reconnect by themselves.

Redis holds its queues in memory: queued tasks survive a restart only if it
writes them to its append-only file (``--appendonly yes``). The test starts a
Redis of its own with that file on, synced at every write, and restarts it:
the machine's Redis and its other clients are never disturbed.
"""

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
from kombu import Connection
from sqlalchemy import delete
from sqlalchemy.orm import Session, scoped_session

from {{ cookiecutter.package_name }}.config import settings
from {{ cookiecutter.package_name }}.models import OutboxMessage, User
from {{ cookiecutter.package_name }}.outbox import add_to_outbox

from .broker_state import RedisServer, messages_waiting
from .conftest import PROJECT_ROOT, add_user, own_worker, queue_of, wait_until
from .worker_tasks import journal_lines, rename_slowly

TIMEOUT = 60
# Every write goes to the append-only file, synced before Redis answers.
PERSISTENT = ("--appendonly", "yes", "--appendfsync", "always")


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A started Redis of the test's own, persistent; stopped afterwards."""
    scheme = urlsplit(settings.celery_broker_url).scheme
    if scheme.startswith("sqla"):
        pytest.skip("the embedded SQLite broker cannot be restarted; this needs Redis")
    if scheme not in ("redis", "rediss"):
        pytest.skip(f"needs Redis as the broker, not {scheme}")
    if shutil.which("redis-server") is None:
        pytest.skip("needs redis-server installed here, to restart a Redis of its own")
    folder = tmp_path / "redis"
    folder.mkdir()
    server = RedisServer(folder, *PERSISTENT)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def relay_log(redis_server: RedisServer, tmp_path: Path) -> Iterator[Path]:
    """The outbox relay loop, publishing to ``redis_server``; its log."""
    log_path = tmp_path / "relay.log"
    with log_path.open("w") as log_file:
        relay = subprocess.Popen(
            [sys.executable, "-m", "{{ cookiecutter.package_name }}.outbox"],
            cwd=PROJECT_ROOT,
            env={**os.environ, "CELERY_BROKER_URL": redis_server.url, "OUTBOX_RELAY_EVERY": "0.2"},
            stderr=log_file,
        )
    try:
        yield log_path
    finally:
        relay.terminate()
        relay.wait(TIMEOUT)


@pytest.fixture
def outbox(session: scoped_session[Session]) -> Iterator[scoped_session[Session]]:
    """``session``, with this test's outbox messages removed afterwards."""
    yield session
    session.remove()
    session.execute(delete(OutboxMessage))
    session.commit()
    session.remove()


@pytest.mark.usefixtures("broker")
def test_a_redis_restart_loses_no_queued_task(
    outbox: scoped_session[Session],
    redis_server: RedisServer,
    relay_log: Path,
    tmp_path: Path,
) -> None:
    sent, relayed = range(201, 209), range(209, 213)
    users = range(201, 213)
    for user_id in users:
        add_user(outbox, user_id, "before")
    outbox.remove()
    journals = {user_id: tmp_path / f"{user_id}.journal" for user_id in users}
    queue = queue_of("redis-restart")

    def done(user_id: int) -> list[str]:
        return journal_lines(journals[user_id], "done")

    # One process: one task runs, the others wait in Redis. The one running
    # when Redis stops finishes while it is down, and is acknowledged once it
    # is back.
    with own_worker(
        "redis-restart", concurrency=1, env={"CELERY_BROKER_URL": redis_server.url}
    ) as worker:
        with Connection(redis_server.url) as connection:
            producer = connection.Producer()
            for user_id in sent:
                rename_slowly.apply_async(
                    (user_id, "after", 0.5, str(journals[user_id])),
                    queue=queue,
                    producer=producer,
                )
        wait_until(lambda: done(sent[0]), "the first task")
        waiting = messages_waiting(queue, redis_server.url)

        redis_server.stop()
        # Tasks committed while Redis is down wait in the outbox.
        for user_id in relayed:
            add_to_outbox(
                outbox,
                rename_slowly.name,
                [user_id, "after", 0.5, str(journals[user_id])],
                queue=queue,
            )
        outbox.commit()
        wait_until(lambda: "cannot relay" in relay_log.read_text(), "the relay to miss Redis")
        redis_server.start()

        wait_until(lambda: all(done(user_id) for user_id in users) or worker.exited(), "every task")
        assert not worker.exited(), f"the worker stopped:\n{worker.log()}"
    # Stopped: a task delivered again but not yet run would be back in the queue.
    log = worker.log()

    assert waiting >= 5, "tasks were queued in Redis when it stopped"
    assert messages_waiting(queue, redis_server.url) == 0
    with redis.Redis.from_url(redis_server.url) as client:
        # Delivered, never acknowledged: Redis would hand it out again an hour later.
        assert client.hlen("unacked") == 0
    assert {user_id: len(done(user_id)) for user_id in users} == dict.fromkeys(users, 1)
    assert log.count("Connected to redis://") == 2, "connected, then reconnected by itself"
    # The relay missed Redis, then published what waited in the outbox.
    assert "relaying again" in relay_log.read_text()
    outbox.expire_all()
    assert {outbox.get_one(User, user_id).name for user_id in users} == {"after"}

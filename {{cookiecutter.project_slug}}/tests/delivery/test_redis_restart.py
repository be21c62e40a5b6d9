"""A Redis restart loses no queued task; the worker and the relay reconnect by themselves.

Redis holds its queues in memory: queued tasks survive a restart only if it
writes them to its append-only file (``--appendonly yes``). The test starts a
Redis of its own with that file on, synced at every write, and restarts it:
the machine's Redis and its other clients are never disturbed.
"""

import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
from kombu import Connection
from sqlalchemy.orm import Session, scoped_session

from {{ cookiecutter.package_name }}.config import settings
from {{ cookiecutter.package_name }}.outbox import add_to_outbox

from ..support.broker_state import RedisServer, messages_waiting
from ..support.environment import queue_of
from ..support.probe_tasks import journal_lines, rename_slowly
from ..support.processes import running_relay
from ..support.records import Record, add_record
from ..support.waiting import wait_until
from ..support.workers import ChildProcess, own_worker

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
def relay(redis_server: RedisServer, tmp_path: Path) -> Iterator[ChildProcess]:
    """The outbox relay loop, publishing to ``redis_server``."""
    env = {"CELERY_BROKER_URL": redis_server.url, "OUTBOX_RELAY_EVERY": "0.2"}
    with running_relay(tmp_path / "relay.log", env) as process:
        yield process


@pytest.mark.usefixtures("broker")
def test_a_redis_restart_loses_no_queued_task(
    session: scoped_session[Session],
    redis_server: RedisServer,
    relay: ChildProcess,
    tmp_path: Path,
) -> None:
    sent, relayed = range(201, 209), range(209, 213)
    records = range(201, 213)
    for record_id in records:
        add_record(session, record_id)
    session.remove()
    journals = {record_id: tmp_path / f"{record_id}.journal" for record_id in records}
    queue = queue_of("redis-restart")

    def done(record_id: int) -> list[str]:
        return journal_lines(journals[record_id], "done")

    # One process: one task runs, the others wait in Redis. The one running
    # when Redis stops finishes while it is down, and is acknowledged once it
    # is back.
    with own_worker(
        "redis-restart", concurrency=1, env={"CELERY_BROKER_URL": redis_server.url}
    ) as worker:
        with Connection(redis_server.url) as connection:
            producer = connection.Producer()
            for record_id in sent:
                rename_slowly.apply_async(
                    (record_id, "after", 0.5, str(journals[record_id])),
                    queue=queue,
                    producer=producer,
                )
        wait_until(lambda: done(sent[0]), "the first task")
        waiting = messages_waiting(queue, redis_server.url)

        redis_server.stop()
        # Tasks committed while Redis is down wait in the outbox.
        for record_id in relayed:
            add_to_outbox(
                session,
                rename_slowly.name,
                [record_id, "after", 0.5, str(journals[record_id])],
                queue=queue,
            )
        session.commit()
        wait_until(lambda: "cannot relay" in relay.log(), "the relay to miss Redis")
        redis_server.start()

        wait_until(
            lambda: all(done(record_id) for record_id in records) or worker.exited(), "every task"
        )
        assert not worker.exited(), f"the worker stopped:\n{worker.log()}"
    # Stopped: a task delivered again but not yet run would be back in the queue.
    log = worker.log()

    assert waiting >= 5, "tasks were queued in Redis when it stopped"
    assert messages_waiting(queue, redis_server.url) == 0
    with redis.Redis.from_url(redis_server.url) as client:
        # Delivered, never acknowledged: Redis would hand it out again an hour later.
        assert client.hlen("unacked") == 0
    assert {record_id: len(done(record_id)) for record_id in records} == dict.fromkeys(records, 1)
    assert log.count("Connected to redis://") == 2, "connected, then reconnected by itself"
    # The relay missed Redis, then published what waited in the outbox.
    assert "relaying again" in relay.log()
    session.expire_all()
    assert {session.get_one(Record, record_id).name for record_id in records} == {"after"}

"""A RabbitMQ restart loses no task and completes none twice; the worker reconnects by itself.

Celery declares its queues durable and publishes its tasks persistent, so
RabbitMQ has them on disk when it stops. The tasks running at that moment can
no longer be acknowledged: RabbitMQ gives them out again once it is back, so
the worker stops them when the connection drops (see ``delivery/broker.py``)
rather than let them complete twice. The test starts a RabbitMQ node of its
own (its own ports, data directory and Erlang cookie) and restarts that one:
the machine's broker and its other clients are never disturbed.
"""

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from kombu import Connection
from sqlalchemy.orm import Session, scoped_session

from {{ cookiecutter.package_name }}.config import settings

from ..support.broker_state import RabbitMQNode, messages_waiting, rabbitmq_server
from ..support.environment import queue_of
from ..support.probe_tasks import journal_lines, rename_slowly
from ..support.records import Record, add_record
from ..support.waiting import wait_until
from ..support.workers import own_worker

TASKS = 12
# Longer than the worker takes to stop the tasks running when the connection
# is lost: with rpc:// results it reports each one stopped through the broker,
# which is down, and gives up only after a few seconds.
RUNNING_SECONDS = 6.0


@pytest.fixture
def rabbitmq(tmp_path: Path) -> Iterator[RabbitMQNode]:
    """A started RabbitMQ node of the test's own, stopped (and its data removed) afterwards."""
    scheme = urlsplit(settings.celery_broker_url).scheme
    if scheme.startswith("sqla"):
        pytest.skip("the embedded SQLite broker cannot be restarted; this needs RabbitMQ")
    if scheme not in ("amqp", "pyamqp", "amqps"):
        pytest.skip(f"needs RabbitMQ as the broker, not {scheme}")
    program = rabbitmq_server()
    if program is None:
        pytest.skip("needs rabbitmq-server installed here, to restart a RabbitMQ of its own")
    node = RabbitMQNode(program, tmp_path)
    node.start()
    try:
        yield node
    finally:
        node.stop()


@pytest.mark.usefixtures("broker")
def test_a_rabbitmq_restart_loses_no_task_and_completes_none_twice(
    session: scoped_session[Session], rabbitmq: RabbitMQNode, tmp_path: Path
) -> None:
    records = range(101, 101 + TASKS)
    for record_id in records:
        add_record(session, record_id)
    session.remove()
    journals = {record_id: tmp_path / f"{record_id}.journal" for record_id in records}
    # The worker's two processes take the first two, still running when the
    # broker goes away; the others wait in the queue.
    running, queued = records[:2], records[2:]

    def lines(record_id: int, kind: str) -> list[str]:
        return journal_lines(journals[record_id], kind)

    with own_worker("rabbitmq-restart", env={"CELERY_BROKER_URL": rabbitmq.url}) as worker:
        with Connection(rabbitmq.url) as connection:
            producer = connection.Producer()
            for record_id in records:
                seconds = RUNNING_SECONDS if record_id in running else 0.5
                rename_slowly.apply_async(
                    (record_id, "after", seconds, str(journals[record_id])),
                    queue=queue_of("rabbitmq-restart"),
                    producer=producer,
                )
        wait_until(lambda: all(lines(record_id, "start") for record_id in running), "two tasks")

        rabbitmq.restart()

        wait_until(
            lambda: all(lines(record_id, "done") for record_id in records) or worker.exited(),
            "every task",
        )
        assert not worker.exited(), f"the worker stopped:\n{worker.log()}"
    # Stopped: a task delivered again but not yet run would be back in the queue.
    log = worker.log()

    assert messages_waiting(queue_of("rabbitmq-restart"), rabbitmq.url) == 0
    done = {record_id: len(lines(record_id, "done")) for record_id in records}
    assert done == dict.fromkeys(records, 1)
    # The running ones were stopped, then run again from the start.
    assert [len(lines(record_id, "start")) for record_id in running] == [2, 2]
    assert [len(lines(record_id, "start")) for record_id in queued] == [1] * len(queued)
    assert log.count("Connected to amqp://") == 2, "connected, then reconnected by itself"
    session.expire_all()
    assert {session.get_one(Record, record_id).name for record_id in records} == {"after"}

"""A RabbitMQ restart loses no task and completes none twice; the worker reconnects by itself.

Celery declares its queues durable and publishes its tasks persistent, so
RabbitMQ has them on disk when it stops. The tasks running at that moment can
no longer be acknowledged: RabbitMQ gives them out again once it is back, so
the worker stops them when the connection drops (see ``delivery/broker.py``)
rather than let them complete twice. The test starts a RabbitMQ node of its
own (its own ports, data directory and Erlang cookie) and restarts that one:
the machine's broker and its other clients are never disturbed.
"""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from kombu import Connection
from sqlalchemy.orm import Session, scoped_session

from {{ cookiecutter.package_name }}.config import settings

from ..support.broker_state import messages_waiting
from ..support.environment import RUN_ID, queue_of
from ..support.probe_tasks import journal_lines, rename_slowly
from ..support.processes import ChildProcess, free_port
from ..support.records import Record, add_record
from ..support.waiting import TIMEOUT, wait_until
from ..support.workers import own_worker

TASKS = 12
# Longer than the worker takes to stop the tasks running when the connection
# is lost: with rpc:// results it reports each one stopped through the broker,
# which is down, and gives up only after a few seconds.
RUNNING_SECONDS = 6.0


def rabbitmq_server() -> str | None:
    """The ``rabbitmq-server`` script, if RabbitMQ is installed here.

    Debian and Ubuntu put a wrapper on PATH that switches to the ``rabbitmq``
    user (and its data directory); the script it wraps runs as the caller.
    """
    packaged = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
    return str(packaged) if packaged.exists() else shutil.which("rabbitmq-server")


class RabbitMQNode:
    """A RabbitMQ node of the test's own, on free ports, with its data in ``folder``.

    ``restart()`` stops it as an operator or a container runtime would
    (SIGTERM, a clean shutdown) and starts it again on the same data.
    """

    def __init__(self, program: str, folder: Path) -> None:
        port = free_port()
        self.url = f"amqp://guest:guest@127.0.0.1:{port}//"
        self.program = program
        self.log_path = folder / "server.log"
        config = folder / "rabbitmq.conf"
        config.write_text(f"listeners.tcp.local = 127.0.0.1:{port}\n")
        plugins = folder / "enabled_plugins"
        plugins.write_text("[].\n")
        no_env_file = folder / "rabbitmq-env.conf"
        no_env_file.write_text("")
        self.env = {
            **os.environ,
            # The Erlang cookie goes to $HOME: a cookie of its own.
            "HOME": str(folder),
            "RABBITMQ_NODENAME": f"test-{RUN_ID}-{port}@localhost",
            "RABBITMQ_DIST_PORT": str(free_port()),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            "RABBITMQ_CONFIG_FILE": str(config),
            "RABBITMQ_CONF_ENV_FILE": str(no_env_file),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(plugins),
            "RABBITMQ_MNESIA_BASE": str(folder / "data"),
            "RABBITMQ_LOG_BASE": str(folder / "log"),
        }
        self.process: ChildProcess | None = None

    def start(self) -> None:
        self.process = ChildProcess([self.program], self.log_path, self.env)
        self.process.wait_until(self.answers, "rabbitmq-server", timeout=TIMEOUT)

    def answers(self) -> bool:
        with Connection(self.url, connect_timeout=1) as connection:
            try:
                connection.connect()
            except connection.connection_errors:
                return False
            return True

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop(timeout=TIMEOUT)
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


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

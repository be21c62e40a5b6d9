"""What the broker holds, seen through kombu as Celery itself sees it; and brokers of a test's own.

``RedisServer`` and ``RabbitMQNode`` start a server apart from the machine's,
for a test that must stop, restart or reconfigure it.
"""

import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kombu import Connection, Queue

from {{ cookiecutter.package_name }}.celery import app
from {{ cookiecutter.package_name }}.delivery.broker import dead_queue, service_queue
from {{ cookiecutter.package_name }}.delivery.dead_task_queue import dead_tasks

from .environment import RUN_ID
from .processes import ChildProcess, free_port
from .waiting import TIMEOUT


def celery_queue(name: str | Queue) -> Queue:
    """The queue as the service declares it: as its own queue, whatever the name."""
    return name if isinstance(name, Queue) else service_queue(name)


def messages_waiting(name: str | Queue, url: str | None = None) -> int:
    """Messages in queue ``name`` that no worker has taken yet (on ``url``'s broker)."""
    with app.connection_for_read(url) as connection:
        # kombu's stubs say this returns the name; it returns (name, messages, consumers).
        declared: Any = celery_queue(name).bind(connection.default_channel).queue_declare()
        return int(declared.message_count)


def delete_queue(name: str | Queue) -> None:
    """Delete the queue and its dead-task queue, with what they hold."""
    queue = celery_queue(name)
    with app.connection_for_write() as connection:
        for each in (queue, dead_queue(queue.name)):
            bound = each.bind(connection.default_channel)
            # Declared first: RabbitMQ refuses to purge a queue that is not
            # there; purged before it goes: Redis "deletes" only queues it saw
            # declared on this channel.
            bound.declare()
            bound.purge()
            bound.delete()


def is_dead(queue: str, task_id: str) -> bool:
    """Whether the task waits in ``queue``'s dead-task queue."""
    return task_id in [task.task_id for task in dead_tasks(app, queue)]


class RedisServer:
    """A redis-server of the caller's own, on a free port, with its files in ``folder``.

    Without ``options`` it keeps nothing on disk. ``stop()`` shuts it down as
    an operator or a container runtime would (SIGTERM: a clean shutdown, which
    flushes the append-only file if there is one); ``start()`` again runs it
    on the same port and files.
    """

    def __init__(self, folder: Path, *options: str) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.command = [
            "redis-server",
            *("--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(folder)),
            *("--save", "", "--appendonly", "no", *options),
        ]
        self.log_path = folder / "redis.log"
        self.process: ChildProcess | None = None

    def start(self) -> None:
        self.process = ChildProcess(self.command, self.log_path, {})
        self.process.wait_until(self.answers, "redis-server", timeout=10)

    def answers(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), 0.2).close()
        except OSError:
            return False
        return True

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None


@contextmanager
def private_redis(*options: str) -> Iterator[str]:
    """A Redis server of the caller's own, on a free port; its URL.

    For tests that must change a server's configuration without touching the
    one every other client shares. Stopped (and its files removed) on exit.
    """
    with tempfile.TemporaryDirectory() as folder:
        server = RedisServer(Path(folder), *options)
        server.start()
        try:
            yield server.url
        finally:
            server.stop()


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

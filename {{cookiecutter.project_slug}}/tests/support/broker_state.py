"""What the broker holds, seen through kombu as Celery itself sees it."""

import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kombu import Queue

from {{ cookiecutter.package_name }}.celery import app
from {{ cookiecutter.package_name }}.delivery.broker import dead_queue, service_queue
from {{ cookiecutter.package_name }}.delivery.dead_tasks import dead_tasks

from .processes import ChildProcess, free_port


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
    return task_id in [task.task_id for task in dead_tasks(queue)]


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

"""What the broker holds, seen through kombu as Celery itself sees it."""

import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kombu import Exchange, Queue

from {{ cookiecutter.package_name }}.celery import app


def celery_queue(name: str) -> Queue:
    # What Celery declares for a queue it was not configured with.
    return Queue(name, Exchange(name), routing_key=name)


def messages_waiting(name: str, url: str | None = None) -> int:
    """Messages in queue ``name`` that no worker has taken yet (on ``url``'s broker)."""
    with app.connection_for_read(url) as connection:
        # kombu's stubs say this returns the name; it returns (name, messages, consumers).
        declared: Any = celery_queue(name).bind(connection.default_channel).queue_declare()
        return int(declared.message_count)


def delete_queue(name: str) -> None:
    with app.connection_for_write() as connection:
        queue = celery_queue(name).bind(connection.default_channel)
        # Purge first: Redis "deletes" only queues it saw declared on this channel.
        queue.purge()
        queue.delete()


class RedisServer:
    """A redis-server of the caller's own, on a free port, with its files in ``folder``.

    Without ``options`` it keeps nothing on disk. ``stop()`` shuts it down as
    an operator or a container runtime would (SIGTERM: a clean shutdown, which
    flushes the append-only file if there is one); ``start()`` again runs it
    on the same port and files.
    """

    def __init__(self, folder: Path, *options: str) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port: int = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.command = [
            "redis-server",
            *("--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(folder)),
            *("--save", "", "--appendonly", "no", *options),
        ]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
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

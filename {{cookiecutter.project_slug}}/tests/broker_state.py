"""What the broker holds, seen through kombu as Celery itself sees it."""

import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kombu import Exchange, Queue

from {{ cookiecutter.package_name }}.celery import app


def celery_queue(name: str) -> Queue:
    # What Celery declares for a queue it was not configured with.
    return Queue(name, Exchange(name), routing_key=name)


def messages_waiting(name: str) -> int:
    """Messages in queue ``name`` that no worker has taken yet."""
    with app.connection_for_read() as connection:
        # kombu's stubs say this returns the name; it returns (name, messages, consumers).
        declared: Any = celery_queue(name).bind(connection.default_channel).queue_declare()
        return int(declared.message_count)


def delete_queue(name: str) -> None:
    with app.connection_for_write() as connection:
        queue = celery_queue(name).bind(connection.default_channel)
        # Purge first: Redis "deletes" only queues it saw declared on this channel.
        queue.purge()
        queue.delete()


@contextmanager
def private_redis(*options: str) -> Iterator[str]:
    """A Redis server of the caller's own, on a free port; its URL.

    For tests that must change a server's configuration without touching the
    one every other client shares. Stopped (and its files removed) on exit.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory() as folder:
        command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", folder]
        server = subprocess.Popen(
            [*command, "--save", "", "--appendonly", "no", *options], stdout=subprocess.DEVNULL
        )
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), 0.2).close()
                    break
                except OSError:
                    assert time.monotonic() < deadline, "redis-server did not start"
                    time.sleep(0.05)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            server.terminate()
            server.wait(10)

"""A RabbitMQ virtual host of the test's own, and what ``rabbitmqctl`` says of its queues.

A vhost of its own lets a test list every queue that its processes declared,
and no other client's.
"""

import json
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from {{ cookiecutter.package_name }}.config import settings

from .environment import RUN_ID


def rabbitmqctl(*args: str) -> str:
    return subprocess.run(
        ["rabbitmqctl", *args], capture_output=True, text=True, check=True, timeout=60
    ).stdout


@dataclass(frozen=True)
class QueueInfo:
    name: str
    type: str
    durable: bool
    exclusive: bool
    auto_delete: bool


def queues_in(vhost: str) -> list[QueueInfo]:
    """Every queue of ``vhost``: ``rabbitmqctl list_queues name type durable exclusive ...``."""
    columns = ("name", "type", "durable", "exclusive", "auto_delete")
    listed = json.loads(rabbitmqctl("list_queues", "-p", vhost, *columns, "--formatter", "json"))
    return [
        QueueInfo(
            row["name"],
            row["type"],
            row["durable"] is True,
            # An exclusive queue's column names its owner; a shared one's is empty.
            row["exclusive"] not in ("", False),
            row["auto_delete"] is True,
        )
        for row in listed
    ]


@contextmanager
def own_vhost() -> Iterator[tuple[str, str]]:
    """A new vhost on the run's RabbitMQ, open to the broker URL's user: (name, URL)."""
    name = f"test-{RUN_ID}-{uuid.uuid4().hex[:8]}"
    broker = urlsplit(settings.celery_broker_url)
    rabbitmqctl("add_vhost", name)
    try:
        rabbitmqctl("set_permissions", "-p", name, broker.username or "guest", ".*", ".*", ".*")
        yield name, broker._replace(path=f"/{quote(name, safe='')}").geturl()
    finally:
        rabbitmqctl("delete_vhost", name)

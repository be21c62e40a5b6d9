"""RabbitMQ: quorum queues, countdowns that wait in the broker, and publisher confirms.

RabbitMQ 4.3 refuses queues that are neither durable nor exclusive; quorum
queues are what it recommends for tasks that must not be lost.
"""

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from amqp.exceptions import MessageNacked
from kombu import Exchange, Queue
from kombu.exceptions import OperationalError
from sqlalchemy.orm import Session, scoped_session

from {{ cookiecutter.package_name }}.celery import app
from {{ cookiecutter.package_name }}.config import settings
from {{ cookiecutter.package_name }}.outbox import add_to_outbox
from {{ cookiecutter.package_name }}.outbox.publishing import relay_batch

from ..support.broker_state import delete_queue, is_dead, messages_waiting
from ..support.environment import queue_of
from ..support.outbox_state import add_channel_closer, new_record, stored
from ..support.probe_tasks import (
    die_while,
    die_with_worker_while,
    journal_lines,
    read_record,
    rename_slowly,
)
from ..support.rabbitmq_vhost import QueueInfo, own_vhost
from ..support.records import add_record
from ..support.waiting import TIMEOUT, wait_until
from ..support.workers import own_worker

LONG_TASK_SECONDS = 12.0


def test_every_queue_is_quorum_or_exclusive_and_the_round_trip_completes(
    broker_server: str, tmp_path: Path
) -> None:
    service = queue_of("vhost")
    with own_vhost() as (vhost, url):
        env = {"CELERY_BROKER_URL": url, "CELERY_QUEUE": service}
        with own_worker("vhost", env=env):
            producer = subprocess.run(
                [sys.executable, "-m", "tests.support.vhost_round_trip", vhost, tmp_path / "j"],
                env={**os.environ, **env},
                capture_output=True,
                text=True,
                timeout=TIMEOUT * 2,
            )
        assert producer.returncode == 0, producer.stderr
        seen = json.loads(producer.stdout)
        queues = {queue["name"]: QueueInfo(**queue) for queue in seen["queues"]}

    assert seen["results"] == ["survived", "retry"], "a countdown and a retry both ran"
    assert queues[service].type == "quorum"
    assert queues[service].durable
    assert queues[f"{service}-other"].type == "quorum", "as Celery creates a missing queue"
    assert queues[f"{service}.dead"] == QueueInfo(f"{service}.dead", "classic", True, False, False)
    delayed = [queue for name, queue in queues.items() if name.startswith("celery_delayed_")]
    assert len(delayed) == 28, "native delayed delivery's ladder of queues"
    assert {queue.type for queue in delayed} == {"quorum"}
    transient_and_shared = [q.name for q in queues.values() if not q.durable and not q.exclusive]
    assert transient_and_shared == [], "RabbitMQ 4.3 refuses these"


@pytest.fixture
def queue_name(broker_server: str) -> Iterator[str]:
    """A name for the test's own queue, ``queue_of(name)``, deleted afterwards."""
    name = f"own-{uuid.uuid4().hex[:8]}"
    yield name
    delete_queue(queue_of(name))


def test_a_long_task_does_not_hold_back_a_countdown_task(
    session: scoped_session[Session], queue_name: str, tmp_path: Path
) -> None:
    countdown_queue = queue_of(queue_name)
    add_record(session, 70)
    session.remove()
    long_journal, countdown_journal = tmp_path / "long", tmp_path / "countdown"

    with own_worker(queue_name, node=f"{queue_name}-busy", concurrency=1):
        # Sent first: a worker that took it now would hold it until it is due,
        # behind the long task it takes next.
        die_while.apply_async(
            (str(tmp_path / "absent"), str(countdown_journal)), countdown=2, queue=countdown_queue
        )
        rename_slowly.apply_async(
            (70, "after", LONG_TASK_SECONDS, str(long_journal)), queue=countdown_queue
        )
        wait_until(lambda: journal_lines(long_journal, "start"), "the long task to start")
        with own_worker(queue_name, node=f"{queue_name}-idle", concurrency=1):
            finished = (countdown_journal, long_journal)
            wait_until(
                lambda: any(journal_lines(journal, "done") for journal in finished),
                "either task to finish",
            )
            assert journal_lines(countdown_journal, "done"), "the countdown task ran when due"
            assert not journal_lines(long_journal, "done")


def test_a_publish_the_broker_refuses_raises_instead_of_vanishing(broker_server: str) -> None:
    name = queue_of("full")
    # Always full: RabbitMQ refuses (nacks) every message published to it.
    limits = {"x-queue-type": "classic", "x-max-length": 0, "x-overflow": "reject-publish"}
    full = Queue(name, Exchange(name, type="topic"), routing_key=name, queue_arguments=limits)
    try:
        with pytest.raises(OperationalError) as raised:
            die_while.apply_async(("flag", "journal"), queue=full, retry=False)
    finally:
        delete_queue(full)

    assert isinstance(raised.value.__cause__, MessageNacked), "published with confirms"


def test_a_task_that_kills_its_whole_worker_is_delivered_max_times_too(
    queue_name: str, tmp_path: Path
) -> None:
    # RabbitMQ counts a delivery whose connection closed, as it counts a reject.
    queue, flag, journal = queue_of(queue_name), tmp_path / "flag", tmp_path / "journal"
    flag.touch()
    poison = die_with_worker_while.apply_async((str(flag), str(journal)), queue=queue)

    for delivery in range(1, settings.task_max_deliveries + 1):
        with own_worker(queue_name, node=f"{queue_name}-{delivery}") as worker:
            wait_until(worker.exited, "the task to kill its worker")
        assert len(journal_lines(journal, "start")) == delivery

    with own_worker(queue_name, node=f"{queue_name}-after"):
        wait_until(lambda: is_dead(queue, poison.id), "the task to be dead")
    assert len(journal_lines(journal, "start")) == settings.task_max_deliveries


def test_an_outbox_message_that_closes_the_channel_fails_alone(
    session: scoped_session[Session], unwatched_queue: str
) -> None:
    record = new_record(session)
    before = add_to_outbox(session, read_record.name, [record.id], queue=unwatched_queue)
    closer = add_channel_closer(session, record)
    behind = add_to_outbox(session, read_record.name, [record.id], queue=unwatched_queue)
    session.commit()

    batch = relay_batch(app)

    assert (batch.sent, batch.failed) == (2, 1)
    assert "NOT_FOUND" in str(stored(closer).last_error)
    assert stored(before).sent_at is not None
    assert stored(behind).sent_at is not None
    # At least once: a message published before the closer may have gone
    # twice, its confirm lost with the channel.
    assert messages_waiting(unwatched_queue) >= 2

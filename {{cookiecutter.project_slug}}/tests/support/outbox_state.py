"""The outbox as the tests see it: its rows, and its command line run as an operator runs it."""

import os
import subprocess
import sys
import uuid
from collections.abc import Mapping

from sqlalchemy import func, select
from sqlalchemy.orm import Session, scoped_session

from {{ cookiecutter.package_name }}.db import engine
from {{ cookiecutter.package_name }}.outbox import OutboxMessage, add_to_outbox

from .environment import PROJECT_ROOT
from .probe_tasks import read_record
from .records import Record


def stored(task_id: str) -> OutboxMessage:
    """The message as committed, read in a transaction of its own."""
    with Session(engine) as session:
        query = select(OutboxMessage).where(OutboxMessage.task_id == task_id)
        return session.scalars(query).one()


def stored_unsent() -> int:
    with Session(engine) as session:
        query = select(func.count()).where(OutboxMessage.sent_at.is_(None))
        return session.execute(query).scalar_one()


def new_record(session: scoped_session[Session], name: str = "new") -> Record:
    """A record, flushed so it has an id, not committed."""
    record = Record(name=name)
    session.add(record)
    session.flush()
    return record


def add_messages(session: scoped_session[Session], count: int, queue: str) -> None:
    """Commit ``count`` messages for ``queue``, about one new record."""
    record = new_record(session)
    for _ in range(count):
        add_to_outbox(session, read_record.name, [record.id], queue=queue)
    session.commit()


def add_unchecked(
    session: scoped_session[Session], record: Record, options: Mapping[str, object]
) -> str:
    """A message written without ``add_to_outbox``'s checks: by an older version, or by hand."""
    task_id = str(uuid.uuid4())
    session.add(
        OutboxMessage(
            task_id=task_id,
            task_name=read_record.name,
            args=[record.id],
            kwargs={},
            options=dict(options),
        )
    )
    session.flush()
    return task_id


def add_unpublishable(session: scoped_session[Session], record: Record) -> str:
    """A message Celery cannot publish: its countdown overflows any date."""
    return add_unchecked(session, record, {"countdown": 10**12})


def add_channel_closer(session: scoped_session[Session], record: Record) -> str:
    """A message RabbitMQ answers by closing the channel: its exchange does not exist."""
    options = {"exchange": "no-such-exchange", "routing_key": "nowhere"}
    return add_unchecked(session, record, options)


def run_outbox_command(
    *arguments: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m ...relay ...`` to its end: ``--once``, ``status``, ``dead``, ``revive``."""
    return subprocess.run(
        [sys.executable, "-m", "{{ cookiecutter.package_name }}.relay", *arguments],
        cwd=PROJECT_ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )

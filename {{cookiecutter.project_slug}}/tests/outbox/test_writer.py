"""``add_to_outbox``: what it refuses at once, and what it writes in the caller's transaction."""

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, scoped_session

from {{ cookiecutter.package_name }}.db import engine
from {{ cookiecutter.package_name }}.outbox import OutboxMessage, add_to_outbox

from ..support.outbox_state import new_record, stored
from ..support.probe_tasks import read_record
from ..support.records import Record


@pytest.mark.parametrize(
    ("args", "kwargs", "error"),
    [
        ([object()], None, TypeError),
        ([], {"when": datetime.now(UTC)}, TypeError),
        ([float("nan")], None, ValueError),
        ("7", None, TypeError),
    ],
)
def test_arguments_json_cannot_hold_are_refused_at_once(
    args: Sequence[Any], kwargs: Mapping[str, Any] | None, error: type[Exception]
) -> None:
    session = Session()  # no database: nothing may reach one

    with pytest.raises(error):
        add_to_outbox(session, read_record.name, args, kwargs)
    assert not session.new


@pytest.mark.parametrize(
    "options",
    [
        {"countdown": "soon"},
        {"countdown": 10**12},
        {"countdown": -1},
        {"countdown": float("inf")},
        {"expires": float("nan")},
        {"expires": 10**12},
        {"queue": 7},
        {"queue": ""},
        {"queue": "q" * 256},
        {"eta": "tomorrow"},
        {"priority": 2.5},
        {"priority": 256},
        {"priority": True},
    ],
)
def test_options_celery_could_not_publish_are_refused_at_once(options: dict[str, Any]) -> None:
    session = Session()

    with pytest.raises((TypeError, ValueError)):
        add_to_outbox(session, read_record.name, [1], **options)
    assert not session.new


@pytest.mark.parametrize("task_name", ["", "t" * 256, None])
def test_a_task_name_that_cannot_be_stored_is_refused(task_name: Any) -> None:
    with pytest.raises(ValueError, match="task_name"):
        add_to_outbox(Session(), task_name, [1])


def test_a_rolled_back_message_is_never_stored(session: scoped_session[Session]) -> None:
    record = new_record(session)
    add_to_outbox(session, read_record.name, [record.id])
    session.rollback()

    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_a_session_of_your_own_stores_the_message_with_its_data(
    session: scoped_session[Session],
) -> None:
    with Session(engine) as own:
        record = Record(name="own")
        own.add(record)
        own.flush()
        record_id = record.id
        result = read_record.apply_async_via_outbox((record_id,), session=own)
        assert not session().in_transaction(), "db_session was not used"
        own.commit()

    assert stored(result.id).args == [record_id]

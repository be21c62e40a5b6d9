"""A ``read_only`` task reads in autocommit on PostgreSQL; its connection's next user does not.

The task runs in this process, through ``SqlAlchemyTask`` as a worker runs it,
so the test can look at the connection it leaves. The round trip the option
saves is counted through a worker in test_round_trips.py.
"""

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, scoped_session

from {{ cookiecutter.package_name }}.db import end_session

from ..support.probe_tasks import read_record
from ..support.records import Record, add_record


def test_a_read_only_task_reads_in_autocommit_on_postgresql(
    session: scoped_session[Session], database_server: str
) -> None:
    add_record(session, 91)
    session.remove()

    assert read_record(91) == {"id": 91, "name": "before"}

    driver: Any = session.connection().connection.driver_connection
    if database_server == "postgresql":
        assert driver.autocommit is True
    assert read_record.read_only


def test_the_connection_goes_back_to_the_pool_ready_to_begin_transactions(
    session: scoped_session[Session],
) -> None:
    add_record(session, 92)
    session.remove()
    read_record(92)
    driver: Any = session.connection().connection.driver_connection

    end_session()

    # Left in autocommit, the next task's writes would each commit on their own.
    session.add(Record(name="rolled back"))
    session.flush()
    assert session.connection().connection.driver_connection is driver
    session.rollback()
    assert session.scalars(select(Record).where(Record.name == "rolled back")).all() == []

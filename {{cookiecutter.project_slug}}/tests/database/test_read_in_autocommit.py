"""``read_in_autocommit``: the read skips BEGIN on PostgreSQL; its connection's next user does not.

The round trip it saves is counted in test_round_trips.py.
"""

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, scoped_session

from {{ cookiecutter.package_name }}.db import end_session, read_in_autocommit

from ..support.records import Record


def test_the_connection_goes_back_to_the_pool_ready_to_begin_transactions(
    session: scoped_session[Session], database_server: str
) -> None:
    read_in_autocommit(session)
    driver: Any = session.connection().connection.driver_connection
    if database_server == "postgresql":
        assert driver.autocommit

    end_session()

    # Left in autocommit, the next task's writes would each commit on their own.
    session.add(Record(name="rolled back"))
    session.flush()
    assert session.connection().connection.driver_connection is driver
    session.rollback()
    assert session.scalars(select(Record).where(Record.name == "rolled back")).all() == []

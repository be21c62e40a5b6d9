"""``read_in_autocommit`` on PostgreSQL: the read skips BEGIN; its connection's next user does not.

The round trip it saves is counted in test_round_trips.py.
"""

from typing import Any

import pytest
from sqlalchemy.orm import Session, scoped_session

from {{ cookiecutter.package_name }}.db import end_session, read_in_autocommit


def test_the_connection_goes_back_to_the_pool_ready_to_begin_transactions(
    session: scoped_session[Session], database_server: str
) -> None:
    if database_server != "postgresql":
        pytest.skip("only PostgreSQL reads in autocommit")
    read_in_autocommit(session)
    driver: Any = session.connection().connection.driver_connection
    assert driver.autocommit

    end_session()

    # Left in autocommit, the next task's writes would each commit on their own.
    assert not driver.autocommit

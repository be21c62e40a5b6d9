"""What the plumbing costs in round trips to the database, counted on the wire.

The worker reaches the database through a proxy that counts round trips: each
time the client speaks after the server has answered. No ping, and no BEGIN
or ROLLBACK that the work does not need. (The sample read, get_from_db, has
its count in tests/test_tasks.py.)
"""

import pytest
from sqlalchemy.orm import Session, scoped_session

from ..support.environment import queue_of
from ..support.probe_tasks import insert_record, read_record
from ..support.records import add_record
from ..support.tcp_proxy import TcpProxy
from ..support.waiting import TIMEOUT
from ..support.workers import own_worker

# Round trips per task. A read by id with session.get on PostgreSQL: the
# SELECT, in autocommit (the task is read_only). On MySQL/MariaDB: the SELECT,
# then the ROLLBACK that ends its snapshot. An insert on PostgreSQL: BEGIN,
# INSERT, COMMIT (psycopg sends BEGIN on its own); on MySQL/MariaDB: INSERT,
# COMMIT.
EXPECTED = {
    "postgresql": {"read": 1, "insert": 3},
    "mysql": {"read": 2, "insert": 2},
}


@pytest.mark.usefixtures("broker")
def test_each_task_makes_only_the_round_trips_its_work_needs(
    session: scoped_session[Session],
    database_url: str,
    database_server: str,
    database_proxy: TcpProxy,
) -> None:
    add_record(session, 90)
    session.remove()
    env = {"DATABASE_URL": database_proxy.url_through(database_url)}
    # One process, so every task reuses the one pooled connection.
    with own_worker("round-trips", concurrency=1, env=env):
        queue = queue_of("round-trips")

        def read() -> None:
            assert read_record.apply_async((90,), queue=queue).get(timeout=TIMEOUT)["id"] == 90

        def insert() -> None:
            insert_record.apply_async(("round trip",), queue=queue).get(timeout=TIMEOUT)

        counted = {
            "read": database_proxy.round_trips_per_call(read),
            "insert": database_proxy.round_trips_per_call(insert),
        }

    assert counted == EXPECTED[database_server]

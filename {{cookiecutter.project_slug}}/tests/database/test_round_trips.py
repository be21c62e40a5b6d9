"""What the plumbing costs in round trips to the database, counted on the wire.

The worker reaches the database through a proxy that counts round trips: each
time the client speaks after the server has answered. No ping, and no BEGIN
or ROLLBACK that the work does not need.
"""

import pytest
from sqlalchemy.orm import Session, scoped_session

from {{ cookiecutter.package_name }}.models import User
from {{ cookiecutter.package_name }}.tasks import get_from_db

from ..support.probe_tasks import insert_record, read_record
from ..support.records import add_record
from ..support.run import queue_of
from ..support.tcp_proxy import TcpProxy
from ..support.workers import own_worker

TIMEOUT = 60
TASKS = 20
WARM_UP = 6
# Round trips per task. A read by id (the sample get_from_db, and a probe
# task reading with session.get) on PostgreSQL: the SELECT, in autocommit
# (read_in_autocommit). On MySQL/MariaDB: the SELECT, then the ROLLBACK that
# ends its snapshot. An insert on PostgreSQL: BEGIN, INSERT, COMMIT (psycopg
# sends BEGIN on its own); on MySQL/MariaDB: INSERT, COMMIT.
TASKS_RUN = ("get_from_db", "read", "insert")
EXPECTED = {
    "postgresql": {"get_from_db": 1, "read": 1, "insert": 3},
    "mysql": {"get_from_db": 2, "read": 2, "insert": 2},
}


@pytest.mark.usefixtures("broker")
def test_each_task_makes_only_the_round_trips_its_work_needs(
    session: scoped_session[Session],
    database_url: str,
    database_server: str,
    database_proxy: TcpProxy,
) -> None:
    add_record(session, 90)
    session.add(User(id=90, name="Ada", email="ada@example.com"))
    session.commit()
    session.remove()
    proxy = database_proxy
    env = {"DATABASE_URL": proxy.url_through(database_url)}
    # One process, so every task reuses the one pooled connection.
    with own_worker("round-trips", concurrency=1, env=env):
        queue = queue_of("round-trips")

        def run(task: str) -> None:
            if task == "get_from_db":
                assert get_from_db.apply_async((90,), queue=queue).get(timeout=TIMEOUT)["id"] == 90
            elif task == "read":
                assert read_record.apply_async((90,), queue=queue).get(timeout=TIMEOUT)["id"] == 90
            else:
                insert_record.apply_async(("round trip",), queue=queue).get(timeout=TIMEOUT)

        # Once-per-connection costs are not a task's: the first task connects,
        # and psycopg prepares a statement on the server after its fifth run.
        for task in TASKS_RUN * WARM_UP:
            run(task)

        counted = {}
        for task in TASKS_RUN:
            before = proxy.round_trips_once_quiet()
            for _ in range(TASKS):
                run(task)
            counted[task] = (proxy.round_trips_once_quiet() - before) / TASKS

    assert counted == EXPECTED[database_server]

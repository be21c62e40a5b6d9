"""What the plumbing costs in round trips to the database, counted on the wire.

The worker reaches the database through a proxy that counts round trips: each
time the client speaks after the server has answered. No ping, and no BEGIN
or ROLLBACK that the work does not need.
"""

import uuid

import pytest
from sqlalchemy.orm import Session, scoped_session

from {{ cookiecutter.package_name }}.tasks import create_user, get_from_db

from .conftest import add_user, own_worker, queue_of
from .tcp_proxy import TcpProxy

TIMEOUT = 60
TASKS = 20
WARM_UP = 6
# Round trips per task. get_from_db on PostgreSQL: the SELECT, in autocommit
# (read_in_autocommit). On MySQL/MariaDB: the SELECT, then the ROLLBACK that
# ends its snapshot. create_user on PostgreSQL: BEGIN, INSERT, COMMIT (psycopg
# sends BEGIN on its own); on MySQL/MariaDB: INSERT, COMMIT.
EXPECTED = {
    "postgresql": {"get_from_db": 1, "create_user": 3},
    "mysql": {"get_from_db": 2, "create_user": 2},
}


@pytest.mark.usefixtures("broker")
def test_each_task_makes_only_the_round_trips_its_work_needs(
    session: scoped_session[Session],
    database_url: str,
    database_server: str,
    database_proxy: TcpProxy,
) -> None:
    add_user(session, 90)
    session.remove()
    proxy = database_proxy
    env = {"DATABASE_URL": proxy.url_through(database_url)}
    # One process, so every task reuses the one pooled connection.
    with own_worker("round-trips", concurrency=1, env=env):
        queue = queue_of("round-trips")

        def run(task: str) -> None:
            if task == "get_from_db":
                assert get_from_db.apply_async((90,), queue=queue).get(timeout=TIMEOUT)["id"] == 90
            else:
                email = f"{uuid.uuid4().hex}@example.com"
                create_user.apply_async(("Round Trip", email), queue=queue).get(timeout=TIMEOUT)

        # Once-per-connection costs are not a task's: the first task connects,
        # and psycopg prepares a statement on the server after its fifth run.
        for task in ("get_from_db", "create_user") * WARM_UP:
            run(task)

        counted = {}
        for task in ("get_from_db", "create_user"):
            before = proxy.round_trips_once_quiet()
            for _ in range(TASKS):
                run(task)
            counted[task] = (proxy.round_trips_once_quiet() - before) / TASKS

    assert counted == EXPECTED[database_server]

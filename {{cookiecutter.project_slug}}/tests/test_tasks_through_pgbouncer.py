"""The sample ``get_from_db``, thousands of times through PgBouncer in transaction mode.

Four worker processes share PgBouncer's two server connections, so the same
statement runs, again and again, on whichever is free: a statement psycopg
had prepared on one would be missing on the other.
"""

import time
from collections.abc import Iterator

import pytest
from celery import group
from sqlalchemy.orm import Session, scoped_session

from {{ cookiecutter.package_name }}.models import User
from {{ cookiecutter.package_name }}.tasks import get_from_db

from .support.environment import queue_of
from .support.pgbouncer import Pooled, pooled_worker, skip_unless_a_server

TASKS = 2000
QUEUE = queue_of("get-from-db-pgbouncer")


@pytest.fixture(scope="module")
def pooled(database_url: str, broker: str) -> Iterator[Pooled]:
    skip_unless_a_server(database_url)
    with pooled_worker("get-from-db-pgbouncer") as pooled:
        yield pooled


@pytest.mark.usefixtures("pooled")
def test_thousands_of_get_from_db_through_two_server_connections_all_succeed(
    session: scoped_session[Session],
) -> None:
    session.add(User(id=7, name="Ada", email="ada@example.com"))
    session.commit()
    began = time.monotonic()

    results = group(get_from_db.s(7) for _ in range(TASKS)).apply_async(queue=QUEUE)
    answers = results.get(timeout=120, propagate=False)

    errors = [answer for answer in answers if not isinstance(answer, dict)]
    assert errors == [], f"{len(errors)} of {TASKS} failed, first: {errors[0]!r}"
    print(f"{TASKS} get_from_db through PgBouncer: {time.monotonic() - began:.1f}s")

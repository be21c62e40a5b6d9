"""One connection pool per worker process, under load.

The worker's parent connects before it forks its children (it waits for the
database at start), so every child inherits a pooled connection. Without
``engine.dispose(close=False)`` in each child, the children talk over one
socket at once: "This result object does not return rows", "Commands out of
sync", or garbage, and the errors "go away with concurrency=1".

The same holds for a worker that loads only its owner's tasks, on a base
class of their own: the protection comes with the engine and the app.
"""

from collections import Counter
from collections.abc import Callable

import pytest
from celery import Task
from sqlalchemy import insert
from sqlalchemy.orm import Session, scoped_session

from {{ cookiecutter.package_name }}.config import settings
from {{ cookiecutter.package_name }}.db import engine

from ..support.database_state import PeakConnections, busy_connections, connection_count
from ..support.environment import queue_of
from ..support.owner_tasks import record_name
from ..support.probe_tasks import read_record
from ..support.records import Record
from ..support.workers import own_worker

RECORDS = 100
CONCURRENCY = 4


def task_count(broker_url: str) -> int:
    # The embedded SQLite broker moves a few dozen tasks a second; 200 still
    # keeps all four children busy at once.
    return 200 if broker_url.startswith("sqla+") else 2_000


WORKERS = {
    # app module (None: the service's own), the task each child runs, its result
    "on SqlAlchemyTask": (None, read_record, lambda n: {"id": n, "name": f"record {n}"}),
    "own tasks only": ("tests.support.owner_app", record_name, lambda n: f"record {n}"),
}


@pytest.mark.parametrize(("app", "task", "answer"), WORKERS.values(), ids=WORKERS.keys())
def test_prefork_children_never_share_a_connection(
    session: scoped_session[Session],
    database_url: str,
    broker: str,
    app: str | None,
    task: Task,  # type: ignore[type-arg]
    answer: Callable[[int], object],
) -> None:
    tasks = task_count(broker)
    session.execute(
        insert(Record), [{"id": n, "name": f"record {n}"} for n in range(1, RECORDS + 1)]
    )
    session.commit()
    session.remove()
    engine.dispose()  # this test process holds no connection while counting
    others = connection_count(database_url)  # e.g. the session's worker; None on SQLite

    with (
        own_worker("fork", concurrency=CONCURRENCY, app=app) as worker,
        PeakConnections(database_url) as connections,
    ):
        record_ids = [1 + n % RECORDS for n in range(tasks)]
        results = [task.apply_async((i,), queue=queue_of("fork")) for i in record_ids]
        outcomes = Counter(
            "ok" if result.get(timeout=120, propagate=False) == answer(record_id) else result.state
            for record_id, result in zip(record_ids, results, strict=True)
        )
        log = worker.log()

    if app is not None:
        assert read_record.name not in log, "the worker loaded only the owner's tasks"
        assert record_name.name in log
    errors = [line for line in log.splitlines() if "ERROR/" in line]
    assert outcomes == {"ok": tasks}, errors[:5]
    assert errors == []
    if others is not None:  # SQLite has no server connections to count
        # The pool settings allow this many per process; a prefork child runs
        # one task at a time and so needs one, plus one in the waiting parent.
        allowed = CONCURRENCY * (settings.db_pool_size + settings.db_max_overflow) + 1
        assert connections.samples > 0
        assert connections.peak - others <= CONCURRENCY + 1 <= allowed
    assert busy_connections(database_url) == 0

"""Sessions stay per task on every pool Celery offers without monkey-patching.

prefork runs tasks in child processes, threads in threads of one process, solo
in the worker's main thread. On each, concurrent tasks must never share a
session, and no attempt may start with a session left by the one before.
"""

from itertools import combinations

import pytest
from sqlalchemy.orm import Session, scoped_session

from ..support.database_state import busy_connections
from ..support.environment import queue_of
from ..support.probe_tasks import SessionUse, hold_session, read_record, report_leftover_session
from ..support.records import add_record
from ..support.waiting import TIMEOUT, wait_until
from ..support.workers import has_retried, own_worker

POOLS = [("prefork", 4), ("threads", 4), ("solo", 1)]

pytestmark = [
    pytest.mark.usefixtures("broker"),
    pytest.mark.parametrize(("pool", "concurrency"), POOLS, ids=[pool for pool, _ in POOLS]),
]


def overlap(a: SessionUse, b: SessionUse) -> bool:
    return a["started"] < b["finished"] and b["started"] < a["finished"]


def test_concurrent_tasks_never_share_a_session(
    pool: str, concurrency: int, database_url: str
) -> None:
    with own_worker(pool, pool=pool, concurrency=concurrency):
        results = [
            hold_session.apply_async((1.0,), queue=queue_of(pool)) for _ in range(2 * concurrency)
        ]
        uses = [result.get(timeout=TIMEOUT) for result in results]

    concurrent = [(a, b) for a, b in combinations(uses, 2) if overlap(a, b)]
    if concurrency > 1:
        assert concurrent, "the pool ran tasks side by side"
    for a, b in concurrent:
        assert (a["process"], a["session"]) != (b["process"], b["session"])
        assert a["connection"] != b["connection"]
    assert busy_connections(database_url) == 0


def test_every_attempt_starts_without_a_leftover_session(pool: str, concurrency: int) -> None:
    # One task at a time, in one thread, so each attempt follows the one before.
    with own_worker(pool, pool=pool, concurrency=1):
        queue = queue_of(pool)
        sends = [
            report_leftover_session.apply_async(("succeed",), queue=queue),
            report_leftover_session.apply_async(("fail",), queue=queue),
            report_leftover_session.apply_async(("retry",), queue=queue),
            report_leftover_session.apply_async(("succeed",), queue=queue),
        ]
        first, failed, retried, last = (r.get(timeout=TIMEOUT, propagate=False) for r in sends)

    assert isinstance(failed, RuntimeError)
    # After a success, after a failure, after a retry: never a session left.
    assert first == [False]
    assert retried == [False, False]
    assert last == [False]


def test_the_retry_story_on_each_pool(
    pool: str, concurrency: int, session: scoped_session[Session]
) -> None:
    with own_worker(pool, pool=pool, concurrency=concurrency) as worker:
        pending = read_record.apply_async((40,), queue=queue_of(pool))
        wait_until(has_retried(worker, pending.id), "the worker to look and retry")
        add_record(session, 40, "late")
        result = pending.get(timeout=TIMEOUT)

    assert result["name"] == "late"
    assert pending.retries is not None
    assert pending.retries >= 1

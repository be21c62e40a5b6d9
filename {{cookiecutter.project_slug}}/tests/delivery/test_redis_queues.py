"""Redis: deliveries are counted from the second one on, however the first one ended.

The workers run on a Redis server of the test's own: its command statistics
count every INCR they send, and no other test's worker shares its messages.
"""

import time
from collections.abc import Callable
from pathlib import Path

import redis

from {{ cookiecutter.package_name }}.celery import app
from {{ cookiecutter.package_name }}.config import settings

from ..support.broker_state import private_redis
from ..support.environment import queue_of
from ..support.probe_tasks import die_while, die_with_worker_while, journal_lines
from ..support.waiting import wait_until
from ..support.workers import own_worker

TASKS = 20
# Redis gives a dead worker's messages to the next worker that starts once
# they are older than the visibility timeout: a short one, and limits below it.
VISIBILITY_TIMEOUT = 3
QUICK_REDELIVERY = {
    "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
    "TASK_TIME_LIMIT": "2",
    "TASK_SOFT_TIME_LIMIT": "1.5",
    "DB_STATEMENT_TIMEOUT": "1",
}


def after(seconds: float) -> Callable[[], bool]:
    """True once ``seconds`` have passed from now."""
    at = time.monotonic() + seconds
    return lambda: time.monotonic() > at


def incr_calls(url: str) -> int:
    stats = redis.Redis.from_url(url).info("commandstats")
    # redis-py sends INCR as INCRBY.
    return sum(int(stats.get(f"cmdstat_{name}", {}).get("calls", 0)) for name in ("incr", "incrby"))


def test_only_a_redelivery_costs_a_round_trip_to_count_it(
    broker_server: str, tmp_path: Path
) -> None:
    flag, healthy, poison = tmp_path / "flag", tmp_path / "healthy", tmp_path / "poison"
    queue = queue_of("counting")
    with private_redis() as url:
        env = {"CELERY_BROKER_URL": url, "CELERY_RESULT_BACKEND": url}
        with own_worker("counting", env=env), app.connection_for_write(url) as connection:
            producer = connection.Producer()
            for _ in range(TASKS):
                die_while.apply_async((str(flag), str(healthy)), producer=producer, queue=queue)
            wait_until(lambda: len(journal_lines(healthy, "done")) == TASKS, "the healthy tasks")
            assert incr_calls(url) == 0, "a first delivery is not counted"

            flag.touch()
            die_while.apply_async((str(flag), str(poison)), producer=producer, queue=queue)
            dead = f"{settings.celery_queue}.dead"
            wait_until(lambda: redis.Redis.from_url(url).llen(dead), "the task to be dead")
            counted = incr_calls(url)

    assert len(journal_lines(poison, "start")) == settings.task_max_deliveries
    assert counted == settings.task_max_deliveries - 1, "one INCR per redelivery"


def test_a_task_that_kills_its_whole_worker_is_delivered_max_times_too(
    broker_server: str, tmp_path: Path
) -> None:
    flag, journal = tmp_path / "flag", tmp_path / "journal"
    flag.touch()
    queue, dead = queue_of("whole"), f"{settings.celery_queue}.dead"
    with private_redis() as url:
        env = {"CELERY_BROKER_URL": url, "CELERY_RESULT_BACKEND": url, **QUICK_REDELIVERY}
        with app.connection_for_write(url) as connection:
            die_with_worker_while.apply_async(
                (str(flag), str(journal)), producer=connection.Producer(), queue=queue
            )
        for delivery in range(1, settings.task_max_deliveries + 1):
            with own_worker("whole", node=f"whole-{delivery}", env=env) as worker:
                wait_until(worker.exited, "the task to kill its worker")
            assert len(journal_lines(journal, "start")) == delivery
            wait_until(after(VISIBILITY_TIMEOUT), "the visibility timeout")

        with own_worker("whole", node="whole-after", env=env) as worker:
            wait_until(lambda: redis.Redis.from_url(url).llen(dead), "the task to be dead")
            log = worker.log()

    assert len(journal_lines(journal, "start")) == settings.task_max_deliveries
    assert f"is dead: it was delivered {settings.task_max_deliveries} times and never" in log

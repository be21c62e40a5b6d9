"""Redis: deliveries are counted only from the second one, so the normal path costs nothing.

The worker runs on a Redis server of the test's own, whose command statistics
count every INCR the worker sends.
"""

from pathlib import Path

import redis

from {{ cookiecutter.package_name }}.celery import app
from {{ cookiecutter.package_name }}.config import settings

from ..support.broker_state import private_redis
from ..support.probe_tasks import die_while, journal_lines
from ..support.run import queue_of
from ..support.waiting import wait_until
from ..support.workers import own_worker

TASKS = 20


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

"""The database path alone, in one process: microseconds and round trips per task.

``python -m bench.inprocess PATH CALLS`` runs one path CALLS times, after a
warm-up, and prints ``{"path", "calls", "seconds"}`` as JSON. The parent
(``costs()``) runs each path twice in a subprocess of its own: once on the
database directly, for the time; and through a proxy that counts round trips,
at CALLS and 2 x CALLS, so what happens once per process (connecting, the
driver preparing a statement after its fifth use) cancels out; the first of
those is also timed, for the proxy's own cost.

The paths, each reading one user by id as ``get_from_db`` does:

- ``service``: the service's task, called through ``SqlAlchemyTask`` (whose
  ``read_only`` option puts the connection in autocommit on PostgreSQL before
  the body runs), and the cleanup the worker runs after it (``end_session``),
  as a worker process runs them, minus Celery's messaging;
- ``post_2013``: the 2013 post's task body and its ``db_session.remove()``;
- ``driver``: the same SELECT on a bare DBAPI connection in autocommit: no
  SQLAlchemy at all, the floor for one round trip.

``bench.once`` adds two more: ``write`` and ``write_once``, one UPDATE of the
user without and with ``once=True`` (``bench.tasks.rename_user``), each call
with a task id of its own, as a worker gives each message.
"""

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import make_url

from .round_trips import RoundTripCounter

WARM_UP = 50
PATHS = ("service", "post_2013", "driver")
DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306}


def service_path() -> Callable[[int], object]:
    from my_service.db import end_session
    from my_service.tasks import get_from_db

    def call(user_id: int) -> object:
        try:
            return get_from_db(user_id)
        finally:
            end_session()

    return call


def post_2013_path() -> Callable[[int], object]:
    from . import post_2013

    def call(user_id: int) -> object:
        try:
            return post_2013.get_from_db(user_id)
        finally:
            post_2013.db_session.remove()

    return call


def write_path(once: bool) -> Callable[[int], object]:
    from my_service.db import end_session

    from .tasks import rename_user, rename_user_once

    task = rename_user_once if once else rename_user

    def call(user_id: int) -> object:
        # The request a worker pushes for each message: a once task records its id.
        task.push_request(id=str(uuid.uuid4()))
        try:
            return task(user_id)
        finally:
            task.pop_request()
            end_session()

    return call


def driver_path() -> Callable[[int], object]:
    from my_service.config import settings

    from .driver import connect, read_user

    connection = connect(settings.database_url)
    return lambda user_id: read_user(connection, user_id)


def run_path(path: str, calls: int, users: int) -> float:
    call = {
        "service": service_path,
        "post_2013": post_2013_path,
        "driver": driver_path,
        "write": lambda: write_path(once=False),
        "write_once": lambda: write_path(once=True),
    }[path]()
    for n in range(WARM_UP):
        call(1 + n % users)
    started = time.perf_counter()
    for n in range(calls):
        call(1 + n % users)
    return time.perf_counter() - started


def json_from(module: str, *args: str, env: dict[str, str]) -> dict[str, Any]:
    """Run ``python -m module args`` in a process of its own; what it printed, as JSON."""
    completed = subprocess.run(
        [sys.executable, "-m", module, *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{module} {' '.join(args)} failed:\n{completed.stderr}")
    printed: dict[str, Any] = json.loads(completed.stdout)
    return printed


def run_subprocess(path: str, calls: int, users: int, env: dict[str, str]) -> float:
    return float(json_from("bench.inprocess", path, str(calls), str(users), env=env)["seconds"])


def costs(
    database_url: str,
    users: int,
    calls: int,
    env: dict[str, str],
    paths: tuple[str, ...] = PATHS,
) -> dict[str, dict[str, float]]:
    """``{path: {"us_per_task": ..., "round_trips": ...}}`` on ``database_url``."""
    backend = make_url(database_url).get_backend_name()
    results: dict[str, dict[str, float]] = {}
    for path in paths:
        seconds = run_subprocess(path, calls, users, {**env, "DATABASE_URL": database_url})
        results[path] = {"us_per_task": round(seconds / calls * 1e6, 1)}
        if backend not in DEFAULT_PORTS:
            continue
        with RoundTripCounter.in_front_of(database_url, DEFAULT_PORTS[backend]) as proxy:
            proxied = {**env, "DATABASE_URL": proxy.url_through(database_url)}
            counted, timed = [], []
            for n in (calls, 2 * calls):
                before = proxy.round_trips
                timed.append(run_subprocess(path, n, users, proxied))
                proxy.wait_closed()
                counted.append(proxy.round_trips - before)
        results[path]["round_trips"] = round((counted[1] - counted[0]) / calls, 2)
        # The proxy's own cost, with no delay: what the figures at a distance
        # (bench.distance, the same proxy) carry beyond the delay itself.
        results[path]["us_per_task_via_proxy"] = round(timed[0] / calls * 1e6, 1)
    return results


def main() -> None:
    path, calls, users = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    print(json.dumps({"path": path, "calls": calls, "seconds": run_path(path, calls, users)}))


if __name__ == "__main__":
    main()

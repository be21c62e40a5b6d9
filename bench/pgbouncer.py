"""get_from_db through PgBouncer in transaction mode against the same on the server directly.

PostgreSQL only. A PgBouncer of the run's own (Debian's ``pgbouncer``, on a
free port, ``default_pool_size`` below the worker's processes) stands in front
of the benchmark's database; the worker gets ``DATABASE_URL`` through it and
``DATABASE_DIRECT_URL`` on the server, as a deployment behind PgBouncer does.
Prestart has made ``DB_STATEMENT_TIMEOUT`` the role's default in the database
(``keep_statement_timeout``), since PgBouncer refuses startup options.

Two figures:

- through a worker: alternating rounds of get_from_db direct and pooled, each
  on a fresh worker (``workload.measure``), tasks per second and the peak of
  server connections;
- in one process (``python -m bench.pgbouncer PATH CALLS USERS``), microseconds
  and round trips per task, counted by ``round_trips.RoundTripCounter`` in
  front of whichever the client talks to, at CALLS and 2 x CALLS so what
  happens once per process cancels out. Paths: ``service`` (the service's
  task and cleanup, as ``bench.inprocess``), and ``set_local``: the same read
  behind a ``SET LOCAL statement_timeout``, the other way to set the timeout
  through a pooler, for what it would cost.

The program is started here rather than imported from the project's test
support: nothing outside a project's ``tests/`` imports test code.
"""

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from .inprocess import WARM_UP, json_from
from .round_trips import RoundTripCounter
from .workload import Measurement, Setup, Workload, measure

# Server connections PgBouncer opens: fewer than the worker's processes.
POOL_SIZE = 2
UNPRIVILEGED_USER = "postgres"  # PgBouncer refuses to run as root
PATHS = ("service", "set_local")


def pgbouncer_program() -> str | None:
    return shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin")


@contextlib.contextmanager
def running_pgbouncer(direct_url: str) -> Iterator[int]:
    """PgBouncer in transaction mode in front of ``direct_url``'s server; its port."""
    program = pgbouncer_program()
    assert program is not None, "pgbouncer is not installed"
    server = make_url(direct_url)
    user = server.username or UNPRIVILEGED_USER
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory(prefix="bench-pgbouncer-") as name:
        folder = Path(name)
        (folder / "userlist.txt").write_text(f'"{user}" "{server.password or ""}"\n')
        (folder / "pgbouncer.ini").write_text(
            f"[databases]\n* = host={server.host or '127.0.0.1'} port={server.port or 5432}\n"
            f"[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
            f"auth_type = trust\nauth_file = {folder / 'userlist.txt'}\n"
            f"pool_mode = transaction\ndefault_pool_size = {POOL_SIZE}\nmax_client_conn = 500\n"
        )
        command = [program, str(folder / "pgbouncer.ini")]
        if os.geteuid() == 0:
            command[1:1] = ["-u", UNPRIVILEGED_USER]
            for path in (folder, *folder.iterdir()):
                shutil.chown(path, UNPRIVILEGED_USER)
        with open(folder / "pgbouncer.log", "w") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 10
            while True:
                with contextlib.suppress(OSError):
                    socket.create_connection(("127.0.0.1", port), 0.2).close()
                    break
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"pgbouncer did not start:\n{(folder / 'pgbouncer.log').read_text()}"
                    )
                time.sleep(0.05)
            yield port
        finally:
            process.terminate()
            process.wait(10)


def through(url: str, port: int) -> str:
    return make_url(url).set(host="127.0.0.1", port=port).render_as_string(hide_password=False)


def prestart(env: dict[str, str]) -> None:
    """Migrate as a deployment behind PgBouncer does: the role's statement timeout too."""
    subprocess.run(
        [sys.executable, "-m", "my_service.prestart"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )


def service_path() -> Callable[[int], object]:
    from my_service.db import end_session
    from my_service.tasks import get_from_db

    def call(user_id: int) -> object:
        try:
            return get_from_db(user_id)
        finally:
            end_session()

    return call


def set_local_path() -> Callable[[int], object]:
    """The timeout set in each transaction instead: SET LOCAL, then the read, in a transaction."""
    from my_service.config import settings
    from my_service.db import db_session, end_session
    from my_service.models import User
    from sqlalchemy import text

    timeout = text(f"SET LOCAL statement_timeout = {round(settings.db_statement_timeout * 1000)}")

    def call(user_id: int) -> object:
        try:
            db_session.execute(timeout)
            user = db_session.get(User, user_id)
            return None if user is None else user.id
        finally:
            end_session()

    return call


def run_path(path: str, calls: int, users: int) -> float:
    call = {"service": service_path, "set_local": set_local_path}[path]()
    for n in range(WARM_UP):
        call(1 + n % users)
    started = time.perf_counter()
    for n in range(calls):
        call(1 + n % users)
    return time.perf_counter() - started


def counted(
    path: str, url: str, default_port: int, calls: int, users: int, env: dict[str, str]
) -> dict[str, float]:
    """Microseconds per call (unproxied), and round trips per call through a counting proxy."""

    def seconds(n: int, database_url: str) -> float:
        args = (path, str(n), str(users))
        result = json_from("bench.pgbouncer", *args, env={**env, "DATABASE_URL": database_url})
        return float(result["seconds"])

    figures = {"us_per_task": round(seconds(calls, url) / calls * 1e6, 1)}
    with RoundTripCounter.in_front_of(url, default_port) as proxy:
        trips = []
        for n in (calls, 2 * calls):
            before = proxy.round_trips
            seconds(n, proxy.url_through(url))
            proxy.wait_closed()
            trips.append(proxy.round_trips - before)
    figures["round_trips"] = round((trips[1] - trips[0]) / calls, 2)
    return figures


@dataclass
class ThroughPgBouncer:
    pool_size: int
    # {"direct": [...], "pgbouncer": [...]}, a measurement per round.
    rounds: dict[str, list[Measurement]]
    # {"direct service", "pgbouncer service", "pgbouncer set_local"}: us and round trips.
    inprocess: dict[str, dict[str, float]]

    def as_json(self) -> dict[str, Any]:
        return {
            "pool_size": self.pool_size,
            "rounds": {
                kind: [asdict(m) | {"errors": m.errors} for m in measured]
                for kind, measured in self.rounds.items()
            },
            "inprocess": self.inprocess,
        }


def measure_through_pgbouncer(
    get_from_db: Workload, setup: Setup, rounds: int, calls: int
) -> ThroughPgBouncer:
    """Alternating rounds direct and pooled through a worker, then the in-process costs.

    A PgBouncer of its own for each pooled round: stopping it closes its server
    connections, which the next round's count of connections would see.
    """
    direct = setup.database_url
    measured: dict[str, list[Measurement]] = {"direct": [], "pgbouncer": []}
    for _ in range(rounds):
        measured["direct"].append(measure(get_from_db, setup))
        with running_pgbouncer(direct) as port:
            pooled_env = {"DATABASE_URL": through(direct, port), "DATABASE_DIRECT_URL": direct}
            prestart(pooled_env)
            pooled = Setup(**(asdict(setup) | {"env": setup.env | pooled_env}))
            measured["pgbouncer"].append(measure(get_from_db, pooled))
    inprocess = {}
    if calls:
        inprocess["direct service"] = counted(
            "service", direct, 5432, calls, setup.users, {**os.environ}
        )
        env = {**os.environ, "DATABASE_DIRECT_URL": direct}
        with running_pgbouncer(direct) as port:
            for path in PATHS:
                inprocess[f"pgbouncer {path}"] = counted(
                    path, through(direct, port), port, calls, setup.users, env
                )
    return ThroughPgBouncer(POOL_SIZE, measured, inprocess)


def table(figures: ThroughPgBouncer) -> str:
    rows = [
        "| get_from_db | rounds x tasks | tasks/s (median) | errors | peak server connections |",
        "| --- | --- | --- | --- | --- |",
    ]
    for kind, measured in figures.rounds.items():
        rates = sorted(m.tasks_per_second for m in measured)
        median = rates[len(rates) // 2]
        peak = max((m.peak_connections or 0) for m in measured)
        rows.append(
            f"| {kind} | {len(measured)} x {measured[0].tasks} | {median:,.0f}"
            f" ({', '.join(f'{r:,.0f}' for r in rates)}) | {sum(m.errors for m in measured)}"
            f" | {peak} |"
        )
    if figures.inprocess:
        rows += ["", "| in one process | us/task | round trips/task |", "| --- | --- | --- |"]
        for name, cost in figures.inprocess.items():
            rows.append(f"| {name} | {cost['us_per_task']:,.0f} | {cost['round_trips']:g} |")
    return "\n".join(rows)


def main() -> None:
    path, calls, users = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    print(json.dumps({"path": path, "calls": calls, "seconds": run_path(path, calls, users)}))


if __name__ == "__main__":
    main()

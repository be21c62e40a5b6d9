"""get_from_db, the 2013 pattern and the bare driver with the database a network's distance away.

On localhost a round trip costs about 50 µs, so Python's own work decides
every figure; a real service's database is 0.3 to 1 ms away, where the
number of round trips decides. Here the database sits behind a proxy that
holds each chunk ``delay`` seconds each way (``round_trips.RoundTripCounter``,
in a process of its own), and each path is timed in-process and through a real
worker.

The workers run at ``DISTANCE_CONCURRENCY`` first, in alternating rounds
(get_from_db, post_2013, driver, again), so a machine that gets busier or
quieter moves all three alike; then one round at the rounds' concurrency. One
process leaves this machine's other core to what a real deployment runs
elsewhere: the database and broker servers, the client sending the tasks and
the proxy. With a process per core, those all compete for the same two cores,
the CPU limits every workload alike, and the time spent waiting on the database
no longer shows. The targets read the first figures; the second show where this
machine's CPU stops them.
"""

import statistics
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.engine import make_url

from .inprocess import DEFAULT_PORTS, PATHS, run_subprocess
from .round_trips import delaying_proxy_process
from .workload import Measurement, Setup, Workload, measure

# Worker processes for the figures the targets read: see the docstring.
DISTANCE_CONCURRENCY = 1
# What each worker workload is called in-process.
WORKLOAD_PATH = {"get_from_db": "service", "post_2013": "post_2013", "driver": "driver"}

Round = dict[str, Measurement]


@dataclass
class AtDistance:
    delay_ms: float
    inprocess_us: dict[str, float]
    # The rounds through a worker, by its concurrency; the first is the targets'.
    rounds_by_concurrency: dict[int, list[Round]]
    # The driver's read through the same proxy with no delay (bench.inprocess).
    driver_us_without_delay: float | None = None

    @property
    def concurrency(self) -> int:
        return next(iter(self.rounds_by_concurrency))

    def rounds(self, concurrency: int | None = None) -> list[Round]:
        return self.rounds_by_concurrency[concurrency or self.concurrency]

    def tasks_per_second(self, workload: str, concurrency: int | None = None) -> list[float]:
        return [measured[workload].tasks_per_second for measured in self.rounds(concurrency)]

    def median_tasks_per_second(self, workload: str, concurrency: int | None = None) -> float:
        return float(statistics.median(self.tasks_per_second(workload, concurrency)))

    def errors(self, workload: str, concurrency: int | None = None) -> int:
        return sum(measured[workload].errors for measured in self.rounds(concurrency))

    def measured_one_way_ms(self) -> float | None:
        """The delay each way as the driver's reads paid it: the set one plus the proxy's timing.

        Sleeps end late and each chunk changes threads twice, so this is above the set delay.
        """
        driver = self.inprocess_us.get("driver")
        if driver is None or self.driver_us_without_delay is None:
            return None
        return round((driver - self.driver_us_without_delay) / 2 / 1000, 2)

    def outside_database_us(
        self, workload: str, path: str, concurrency: int | None = None
    ) -> float | None:
        """A worker process's time per task beyond the database path: Celery's own share.

        Each of ``concurrency`` processes spends concurrency / (tasks/s) per task,
        of which the in-process path (bench.inprocess) is the database's.
        """
        processes = concurrency or self.concurrency
        per_second, inprocess = (
            self.median_tasks_per_second(workload, processes),
            self.inprocess_us.get(path),
        )
        if not per_second or inprocess is None:
            return None
        return float(round(processes / per_second * 1e6 - inprocess))

    def celery_time_for_twice_post_2013_us(self) -> float | None:
        """The most Celery may spend per task for get_from_db to reach 2 x post_2013's tasks/s.

        With c that time, a process runs c + t per task: 2 x needs c + t_post >=
        2 (c + t_ours), so c <= t_post - 2 t_ours.
        """
        ours, post = self.inprocess_us.get("service"), self.inprocess_us.get("post_2013")
        if ours is None or post is None:
            return None
        return float(round(post - 2 * ours))

    def ratios(self, workload: str, other: str, concurrency: int | None = None) -> list[float]:
        """Round by round: both ran within a minute of each other."""
        return [
            round(measured[workload].tasks_per_second / measured[other].tasks_per_second, 2)
            for measured in self.rounds(concurrency)
            if measured[other].tasks_per_second
        ]

    def ratio(self, workload: str, other: str, concurrency: int | None = None) -> float | None:
        """The median of the rounds' ratios."""
        ratios = self.ratios(workload, other, concurrency)
        return round(statistics.median(ratios), 2) if ratios else None

    def as_json(self) -> dict[str, Any]:
        return {
            "delay_ms": self.delay_ms,
            "measured_one_way_ms": self.measured_one_way_ms(),
            "inprocess_us_per_task": self.inprocess_us,
            "concurrency": self.concurrency,
            "rounds": len(self.rounds()),
            "workers": {name: self.median_tasks_per_second(name) for name in WORKLOAD_PATH},
            "errors": {name: self.errors(name) for name in WORKLOAD_PATH},
            "get_from_db_vs_post_2013": self.ratio("get_from_db", "post_2013"),
            "get_from_db_vs_driver": self.ratio("get_from_db", "driver"),
            "outside_database_us_per_task": {
                name: self.outside_database_us(name, path) for name, path in WORKLOAD_PATH.items()
            },
            "celery_time_for_twice_post_2013_us": self.celery_time_for_twice_post_2013_us(),
            "by_concurrency": {
                concurrency: {
                    "tasks_per_second": {
                        name: self.tasks_per_second(name, concurrency) for name in WORKLOAD_PATH
                    },
                    "get_from_db_vs_post_2013": self.ratios(
                        "get_from_db", "post_2013", concurrency
                    ),
                    "get_from_db_vs_driver": self.ratios("get_from_db", "driver", concurrency),
                }
                for concurrency in self.rounds_by_concurrency
            },
        }


def at_distance(
    kinds: dict[str, Workload],
    setup: Setup,
    delay_ms: float,
    calls: int,
    env: dict[str, str],
    driver_us_without_delay: float | None = None,
    concurrency: int = DISTANCE_CONCURRENCY,
    rounds: int = 1,
) -> AtDistance | None:
    """Each path through a proxy ``delay_ms`` away; None on SQLite, which has no network.

    Workers run ``rounds`` rounds at ``concurrency``, then one at ``setup``'s if that differs.
    """
    backend = make_url(setup.database_url).get_backend_name()
    if backend not in DEFAULT_PORTS:
        return None
    with delaying_proxy_process(
        setup.database_url, DEFAULT_PORTS[backend], delay_ms / 1000
    ) as proxied:
        inprocess_us = {}
        for path in PATHS:
            seconds = run_subprocess(path, calls, setup.users, {**env, "DATABASE_URL": proxied})
            inprocess_us[path] = round(seconds / calls * 1e6, 1)
        # The worker reads through the proxy; the connection counts still ask
        # the server itself (setup.database_url). Logs of their own: the same
        # workloads at the same task count would overwrite the rounds' logs.
        rounds_by_concurrency: dict[int, list[Round]] = {}
        plan = {concurrency: rounds}  # first: the targets' rounds
        plan.setdefault(setup.concurrency, 1)
        for processes, count in plan.items():
            for number in range(1, count + 1):
                log_dir = setup.log_dir / f"at-{delay_ms:g}ms-x{processes}-round{number}"
                log_dir.mkdir(parents=True, exist_ok=True)
                far = replace(
                    setup,
                    concurrency=processes,
                    env={**setup.env, "DATABASE_URL": proxied},
                    log_dir=log_dir,
                )
                measured = {name: measure(kinds[name], far) for name in WORKLOAD_PATH}
                rounds_by_concurrency.setdefault(processes, []).append(measured)
    return AtDistance(delay_ms, inprocess_us, rounds_by_concurrency, driver_us_without_delay)

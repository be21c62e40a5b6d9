"""``python -m bench.run``: the service's task against the ceiling and the 2013 post.

Three workloads, each on a fresh worker with the same pool, concurrency,
broker, result backend and settings:

- ``ceiling``: ``bench.tasks.noop``, a task that does nothing;
- ``get_from_db``: the service's task, over many distinct existing users;
- ``post_2013``: the post's original code (``bench.post_2013``).

They run in alternating rounds (ceiling, ours, the post's; again), so a
machine that gets busier or quieter moves all three alike; each figure is the
median of the rounds, with their spread. Every pool asked for (prefork and
threads by default) gets its rounds. Beside them, ``bench.inprocess`` measures
the database path alone, in one process, against the bare driver: microseconds
per task, and round trips per task counted through a proxy.

Then ``bench.once``: a write task against the same task marked ``once=True``,
in alternating rounds and in-process, for what ``once`` costs.

With ``--scaling``, ``ceiling`` and ``get_from_db`` also run at 1,000 / 5,000 /
20,000 tasks and concurrency 1 / 2 / 4. The servers are those in
``DATABASE_URL``, ``CELERY_BROKER_URL`` and ``CELERY_RESULT_BACKEND``; the run
creates a database and a queue of its own and removes them at the end.
Progress goes to stderr; the tables to stdout; every figure to ``--json``.
"""

import argparse
import json
import os
import shlex
import sys
import time
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import Any

from my_service.celery import app
from my_service.config import settings
from sqlalchemy.engine import make_url

from . import database, inprocess, machine, post_2013, relay, report, telemetry
from .distance import DISTANCE_CONCURRENCY, AtDistance, at_distance
from .longrun import LongRun, long_run
from .pgbouncer import ThroughPgBouncer, measure_through_pgbouncer, pgbouncer_program
from .pgbouncer import table as pgbouncer_table
from .once import OnceFigures, measure_once, once_table
from .workload import Measurement, Setup, Workload, measure

SCALING_TASKS = (1_000, 5_000, 20_000)
SCALING_CONCURRENCY = (1, 2, 4)
VAR = Path("var/bench")
OUR_TASK = "my_service.tasks.get_from_db"
# Task runs and relayed messages per round of bench.telemetry.
TELEMETRY_CALLS = 20_000
# Worker processes through PgBouncer: more than its server connections.
PGBOUNCER_CONCURRENCY = 4


def workloads() -> dict[str, Workload]:
    ours = (settings.db_pool_size, settings.db_max_overflow)
    return {
        "ceiling": Workload("ceiling", "bench.tasks.noop", *ours),
        "get_from_db": Workload("get_from_db", OUR_TASK, *ours),
        "post_2013": Workload(
            "post_2013",
            "bench.post_2013.get_from_db",
            post_2013.POOL_SIZE,
            post_2013.MAX_OVERFLOW,
        ),
        "driver": Workload("driver", "bench.tasks.driver_read", 1, 0, per_thread=True),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run",
        description="Measure get_from_db against a no-op ceiling and the 2013 post's pattern.",
    )
    parser.add_argument("--tasks", type=int, default=5_000, help="tasks per workload (5000)")
    parser.add_argument(
        "--pool",
        action="append",
        choices=("prefork", "threads", "solo"),
        help="worker pool; repeat for several (default: prefork and threads)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=os.cpu_count() or 1,
        help="worker processes or threads (default: the number of cores)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per pool (3)")
    parser.add_argument(
        "--inprocess-calls",
        type=int,
        default=2_000,
        help="calls per path for the in-process costs (2000; 0 skips them)",
    )
    parser.add_argument(
        "--scaling",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="also run the scaling table (1k/5k/20k tasks x concurrency 1/2/4)",
    )
    parser.add_argument(
        "--once",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run a write task with and without once=True, --rounds rounds (on)",
    )
    parser.add_argument(
        "--long-run",
        type=int,
        default=50_000,
        help="get_from_db tasks through one worker, resources sampled (50000; 0 skips)",
    )
    parser.add_argument(
        "--network-delay-ms",
        type=float,
        default=0.5,
        help="also run get_from_db, post_2013 and driver with the database this far, each way"
        " (0.5; 0 skips)",
    )
    parser.add_argument(
        "--distance-tasks",
        type=int,
        default=2_000,
        help="tasks per workload and round at distance (2000)",
    )
    parser.add_argument(
        "--distance-rounds",
        type=int,
        default=3,
        help="alternating rounds at distance on --distance-concurrency (3)",
    )
    parser.add_argument(
        "--distance-concurrency",
        type=int,
        default=DISTANCE_CONCURRENCY,
        help="worker processes at distance for the targets, before --concurrency's"
        " (%(default)s: the other cores stay for the servers, as on machines of their own)",
    )
    parser.add_argument(
        "--relay-messages",
        type=int,
        default=20_000,
        help="outbox messages for the relay's throughput (20000; 0 skips the relay)",
    )
    parser.add_argument(
        "--latency-messages",
        type=int,
        default=relay.LATENCY_MESSAGES,
        help="messages for the relay's commit-to-broker latency (%(default)s)",
    )
    parser.add_argument(
        "--relay-rounds",
        type=int,
        default=relay.ROUNDS,
        help="rounds of the relay and its publish path alone (%(default)s)",
    )
    parser.add_argument(
        "--pgbouncer-tasks",
        type=int,
        default=2_000,
        help="get_from_db tasks per round direct and through PgBouncer (2000; PostgreSQL)",
    )
    parser.add_argument(
        "--pgbouncer-rounds",
        type=int,
        default=2,
        help="alternating rounds direct and through PgBouncer (2; 0 skips them)",
    )
    parser.add_argument("--json", type=Path, default=VAR / "results.json", help="%(default)s")
    args = parser.parse_args(argv)
    if min(args.tasks, args.concurrency, args.rounds, args.relay_rounds) < 1:
        parser.error("--tasks, --concurrency, --rounds and --relay-rounds must be positive")
    if min(args.pgbouncer_tasks, args.pgbouncer_rounds + 1) < 1:
        parser.error("--pgbouncer-tasks must be positive, --pgbouncer-rounds not < 0")
    if min(args.inprocess_calls, args.long_run, args.relay_messages, args.network_delay_ms) < 0:
        parser.error("--inprocess-calls, --long-run, --relay-messages, --network-delay-ms: not < 0")
    distance = (args.distance_tasks, args.distance_rounds, args.distance_concurrency)
    if min(*distance, args.latency_messages) < 1:
        parser.error(
            "--distance-tasks, --distance-rounds, --distance-concurrency and"
            " --latency-messages must be positive"
        )
    args.pool = args.pool or ["prefork", "threads"]
    return args


def with_ratio(measurement: Measurement, ceiling: Measurement) -> Measurement:
    if ceiling.tasks_per_second > 0:
        measurement.ratio_to_ceiling = round(
            measurement.tasks_per_second / ceiling.tasks_per_second, 3
        )
    return measurement


def delete_queue(queue: str) -> None:
    """Remove the run's queue from the broker (empty unless a task timed out)."""
    with app.connection_for_write() as connection:
        channel: Any = connection.default_channel
        channel.queue_delete(queue)


def redacted(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    begun = time.monotonic()
    run_id = uuid.uuid4().hex[:8]
    log_dir = VAR / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    database_url = database.bench_database_url(settings.database_url, run_id, VAR)
    queue = f"bench-{run_id}"
    runs = [args.tasks, *(SCALING_TASKS if args.scaling else ())]
    users = max(runs)

    described = machine.describe(settings.database_url)
    print(
        f"Benchmark on {described['cpu']}, {described['cores']} cores,"
        f" {described['database_server']}, {described['broker_server']}",
        file=sys.stderr,
    )
    print(f"Creating {redacted(database_url)} with {users:,} users", file=sys.stderr, flush=True)
    database.create_and_migrate(database_url)
    kinds = workloads()
    env = {"DATABASE_URL": database_url}
    long: LongRun | None = None
    far: AtDistance | None = None
    relayed: relay.RelayFigures | None = None
    pooled: ThroughPgBouncer | None = None
    backend = make_url(settings.database_url).get_backend_name()
    once: OnceFigures | None = None
    try:
        database.seed_users(database_url, users)

        def run(name: str, tasks: int, pool: str, concurrency: int) -> Measurement:
            setup = Setup(tasks, pool, concurrency, users, database_url, queue, log_dir, env)
            return measure(kinds[name], setup)

        def first_pool(tasks: int) -> Setup:
            return Setup(
                tasks, args.pool[0], args.concurrency, users, database_url, queue, log_dir, env
            )

        costs: dict[str, dict[str, float]] = {}
        telemetry_costs: dict[str, float] = {}
        if args.inprocess_calls:
            print("In-process costs of the database path", file=sys.stderr, flush=True)
            costs = inprocess.costs(database_url, users, args.inprocess_calls, dict(os.environ))
            print("Telemetry's cost, tracing off", file=sys.stderr, flush=True)
            telemetry_costs = telemetry.costs(TELEMETRY_CALLS, dict(os.environ))
        rounds: list[list[Measurement]] = []
        for pool in args.pool:
            for _ in range(args.rounds):
                ceiling = run("ceiling", args.tasks, pool, args.concurrency)
                ceiling.ratio_to_ceiling = 1.0
                others = [
                    run(name, args.tasks, pool, args.concurrency) for name in report.ROUND[1:]
                ]
                rounds.append([ceiling, *(with_ratio(m, ceiling) for m in others)])
        summaries = report.summarize(rounds, costs)
        scaling_rows = []
        if args.scaling:
            pool = args.pool[0]
            for concurrency in SCALING_CONCURRENCY:
                for tasks in SCALING_TASKS:
                    scaled_ceiling = run("ceiling", tasks, pool, concurrency)
                    scaled_ceiling.ratio_to_ceiling = 1.0
                    ours = with_ratio(run("get_from_db", tasks, pool, concurrency), scaled_ceiling)
                    scaling_rows.append(report.ScalingRow(scaled_ceiling, ours))
        if args.once:
            print("once=True against the same write without it", file=sys.stderr, flush=True)
            once = measure_once(
                first_pool(args.tasks),
                settings.db_pool_size,
                settings.db_max_overflow,
                args.rounds,
                args.inprocess_calls,
                dict(os.environ),
            )
        if args.long_run:
            long = long_run(first_pool(args.long_run))
        if args.network_delay_ms:
            print(f"At {args.network_delay_ms} ms each way", file=sys.stderr, flush=True)
            far = at_distance(
                kinds,
                first_pool(args.distance_tasks),
                args.network_delay_ms,
                args.inprocess_calls or 500,
                dict(os.environ),
                costs.get("driver", {}).get("us_per_task_via_proxy"),
                args.distance_concurrency,
                args.distance_rounds,
            )
        if args.pgbouncer_rounds and backend == "postgresql":
            if pgbouncer_program() is None:
                print("Through PgBouncer: skipped, pgbouncer is not installed", file=sys.stderr)
            else:
                print("get_from_db through PgBouncer and direct", file=sys.stderr, flush=True)
                pooled = measure_through_pgbouncer(
                    kinds["get_from_db"],
                    Setup(
                        args.pgbouncer_tasks,
                        args.pool[0],
                        PGBOUNCER_CONCURRENCY,
                        users,
                        database_url,
                        queue,
                        log_dir,
                        env,
                    ),
                    args.pgbouncer_rounds,
                    args.inprocess_calls,
                )
        if args.relay_messages:
            print("The outbox relay", file=sys.stderr, flush=True)
            relayed = relay.measure(
                database_url, args.relay_messages, args.latency_messages, log_dir, args.relay_rounds
            )
    finally:
        database.drop(database_url)
        delete_queue(queue)

    command = "python -m bench.run " + shlex.join(argv if argv is not None else sys.argv[1:])
    targets = report.targets(summaries, backend, long, far, relayed)
    print(f"\n{report.summary_table(summaries)}\n")
    if costs:
        print(f"In-process, per task:\n\n{report.costs_table(costs)}\n")
        print(f"{report.telemetry_text(telemetry_costs, summaries, args.concurrency, relayed)}\n")
    print(f"Every round:\n\n{report.workloads_table([m for r in rounds for m in r])}\n")
    if scaling_rows:
        print(f"Scaling ({args.pool[0]} pool):\n\n{report.scaling_table(scaling_rows)}\n")
    if once is not None:
        print(f"once=True against the same write ({args.pool[0]} pool):\n\n{once_table(once)}\n")
    if long is not None:
        print(f"{report.long_run_title(long)}:\n\n{report.long_run_table(long)}\n")
    if far is not None:
        print(f"{report.distance_title(far)}:\n\n{report.distance_table(far)}\n")
        print(f"{report.distance_note(far)}\n")
    if pooled is not None:
        print(
            f"get_from_db through PgBouncer (transaction mode, {pooled.pool_size} server"
            f" connections, {args.pool[0]} x{PGBOUNCER_CONCURRENCY}) and direct, alternating:"
            f"\n\n{pgbouncer_table(pooled)}\n"
        )
    if relayed is not None:
        print(f"The outbox relay:\n\n{report.relay_table(relayed)}\n")
    print(f"Targets:\n{report.targets_text(targets)}\n")
    print(
        f"Machine: {described['cpu']}, {described['cores']} cores, {described['ram_gb']} GB RAM,"
        f" {described['os']}, Python {described['python']};"
        f" {described['database_server']}, {described['broker_server']};"
        f" load average at start {described['load_average_at_start'][0]},"
        f" at the end {os.getloadavg()[0]:.2f}"
    )
    print(f"Command: {command.strip()}")
    print(report.HOW_MEASURED)
    total = time.monotonic() - begun
    print(f"Total time: {total:.0f}s")

    results: dict[str, Any] = {
        "command": command.strip(),
        "machine": described,
        "settings": {
            "tasks": args.tasks,
            "pools": args.pool,
            "rounds": args.rounds,
            "concurrency": args.concurrency,
            "users": users,
            "database": redacted(settings.database_url),
            "broker": redacted(settings.celery_broker_url),
            "result_backend": redacted(settings.celery_result_backend),
            "db_pool_size": settings.db_pool_size,
            "db_max_overflow": settings.db_max_overflow,
            "task_max_retries": settings.task_max_retries,
            "task_retry_delay": settings.task_retry_delay,
        },
        "how_measured": report.HOW_MEASURED,
        "summary": [asdict(summary) for summary in summaries],
        "inprocess": costs,
        "telemetry_tracing_off": telemetry_costs,
        "workloads": [asdict(m) | {"errors": m.errors} for r in rounds for m in r],
        "scaling": [
            {
                "ceiling": asdict(row.ceiling) | {"errors": row.ceiling.errors},
                "get_from_db": asdict(row.get_from_db) | {"errors": row.get_from_db.errors},
            }
            for row in scaling_rows
        ],
        "once": None if once is None else once.as_json(),
        "long_run": None if long is None else asdict(long) | {"growth": long.growth()},
        "at_distance": None if far is None else far.as_json(),
        "relay": None if relayed is None else asdict(relayed),
        "pgbouncer": None if pooled is None else pooled.as_json(),
        "targets": [asdict(t) for t in targets],
        "load_average_at_end": [round(load, 2) for load in os.getloadavg()],
        "total_seconds": round(total, 1),
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"JSON: {args.json}")


if __name__ == "__main__":
    main()

"""The benchmark's tables (Markdown, for the terminal and READMEs) and its targets."""

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from .distance import AtDistance
from .longrun import LongRun
from .relay import RelayFigures
from .workload import Measurement

# Each round runs these in this order, on fresh workers.
ROUND = ("ceiling", "get_from_db", "post_2013", "driver")
# The service's task should cost little next to a task that does nothing.
THROUGHPUT_TARGET = 0.85

HOW_MEASURED = (
    "tasks/s: first send to the last result's date_done. Latency: send (client clock) to"
    " date_done (stored by the worker; same machine, same clock); all tasks are sent at once,"
    " so it includes the wait in the queue. Peak conns: the bench"
    " database's connections, sampled every 20 ms from before the worker starts to"
    " the last result; allowed: one pool (pool_size +"
    " max_overflow) per worker process, plus the prefork parent. Idle in tx: connections"
    " in an unfinished transaction 0.5 s after the last result. RSS: the worker's"
    " process tree at the end. Rounds alternate ceiling, get_from_db, post_2013, driver"
    " (get_from_db's SELECT on a bare DBAPI connection in a plain task: the floor);"
    " figures are the median of the rounds (min-max). In-process: the task body and"
    " its cleanup called in a loop in one process, without Celery, against the same"
    " SELECT on a bare DBAPI connection; round trips counted by a proxy at N and 2N"
    " calls, the difference divided by N. At a distance: the same three paths and"
    " workloads through the same proxy holding each chunk the delay each way (its own"
    " cost without the delay: the in-process table's last column), in alternating rounds"
    " on one worker process (the targets: the median of the rounds' ratios), then one"
    " round on as many as the rounds; the"
    " rest of a process's time per task is concurrency / (tasks/s) minus the in-process"
    " time: what Celery spends. Relay: N waiting messages, `python -m <package>.relay"
    " --once` timed whole, process start included; the publish path alone: the relay's"
    " publisher on N messages held in memory, no database; a relay process's start: a"
    " process that only imports it. Latency: commit to a reader's receipt (Redis BRPOP,"
    " a kombu consumer on RabbitMQ), the relay idle 0.2 s before each message."
)
# Which in-process path stands for which workload.
INPROCESS_PATH = {"get_from_db": "service", "post_2013": "post_2013", "driver": "driver"}
# get_from_db's round trips the database allows: the SELECT alone in autocommit
# on PostgreSQL (the task's read_only option); the SELECT and the ROLLBACK that
# ends its snapshot on MySQL.
ROUND_TRIPS_TARGET = {"postgresql": 1.0, "mysql": 2.0}
# get_from_db's body and the cleanup after it, in-process, at most this many µs
# on PostgreSQL: the ORM's own cost over a round trip kept small.
INPROCESS_TARGET_US = {"postgresql": 350.0}
# At a network's distance, round trips decide: get_from_db's one against the
# 2013 pattern's three, and its one against the bare driver's.
DISTANCE_VS_POST_2013 = 2.0
DISTANCE_VS_DRIVER = 0.9
# The outbox relay: messages per second by broker, and on PostgreSQL (woken by
# NOTIFY) the commit-to-broker latency in ms, median and worst.
RELAY_TARGET = {"redis": 5_000, "amqp": 2_000}
LATENCY_TARGET_MS = (20.0, 200.0)


def _cell(value: object) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 10 else f"{value:,.0f}"
    return str(value)


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def workloads_table(measurements: Sequence[Measurement]) -> str:
    header = (
        "workload",
        "tasks",
        "pool",
        "concurrency",
        "tasks/s",
        "vs ceiling",
        "p50 ms",
        "p99 ms",
        "errors",
        "peak conns",
        "allowed conns",
        "idle in tx",
        "worker RSS MB",
    )
    rows = [
        (
            m.workload,
            m.tasks,
            m.pool,
            m.concurrency,
            m.tasks_per_second,
            m.ratio_to_ceiling,
            m.p50_ms,
            m.p99_ms,
            m.errors,
            m.peak_connections,
            m.allowed_connections,
            m.idle_in_transaction,
            m.worker_rss_mb,
        )
        for m in measurements
    ]
    return _table(header, rows)


@dataclass(frozen=True)
class ScalingRow:
    ceiling: Measurement
    get_from_db: Measurement


def scaling_table(rows: Sequence[ScalingRow]) -> str:
    header = (
        "tasks",
        "concurrency",
        "ceiling tasks/s",
        "get_from_db tasks/s",
        "vs ceiling",
        "get_from_db p50 ms",
        "get_from_db p99 ms",
        "errors",
        "peak conns (allowed)",
        "worker RSS MB",
    )
    table_rows = [
        (
            row.get_from_db.tasks,
            row.get_from_db.concurrency,
            row.ceiling.tasks_per_second,
            row.get_from_db.tasks_per_second,
            row.get_from_db.ratio_to_ceiling,
            row.get_from_db.p50_ms,
            row.get_from_db.p99_ms,
            row.ceiling.errors + row.get_from_db.errors,
            f"{_cell(row.get_from_db.peak_connections)} ({row.get_from_db.allowed_connections})",
            row.get_from_db.worker_rss_mb,
        )
        for row in rows
    ]
    return _table(header, table_rows)


@dataclass(frozen=True)
class Summary:
    """One workload on one pool, over its rounds."""

    pool: str
    workload: str
    tasks: int
    rounds: int
    tasks_per_second: float
    tasks_per_second_min: float
    tasks_per_second_max: float
    ratio_to_ceiling: float | None
    ratio_min: float | None
    ratio_max: float | None
    # get_from_db only: its throughput over the 2013 pattern's, round by round.
    ratio_to_post_2013: float | None
    errors: int
    peak_connections: int | None
    allowed_connections: int
    idle_in_transaction: int | None
    worker_rss_mb: float
    round_trips: float | None
    us_per_task: float | None


def _median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 3) if present else None


def summarize(
    rounds: Sequence[Sequence[Measurement]], costs: dict[str, dict[str, float]]
) -> list[Summary]:
    """Each (pool, workload) over its rounds; each round runs ``ROUND`` in order."""
    summaries = []
    for pool in dict.fromkeys(r[0].pool for r in rounds):
        of_pool = [r for r in rounds if r[0].pool == pool]
        for index, name in enumerate(ROUND):
            runs = [r[index] for r in of_pool]
            speeds = [m.tasks_per_second for m in runs]
            ratios = [m.ratio_to_ceiling for m in runs]
            known_ratios = [r for r in ratios if r is not None]
            versus_post = None
            if name == "get_from_db":
                versus_post = _median(
                    [
                        r[1].tasks_per_second / r[2].tasks_per_second
                        for r in of_pool
                        if r[2].tasks_per_second
                    ]
                )
            peaks = [m.peak_connections for m in runs if m.peak_connections is not None]
            idles = [m.idle_in_transaction for m in runs if m.idle_in_transaction is not None]
            cost = costs.get(INPROCESS_PATH.get(name, ""), {})
            summaries.append(
                Summary(
                    pool=pool,
                    workload=name,
                    tasks=runs[0].tasks,
                    rounds=len(runs),
                    tasks_per_second=round(statistics.median(speeds), 1),
                    tasks_per_second_min=min(speeds),
                    tasks_per_second_max=max(speeds),
                    ratio_to_ceiling=_median(ratios),
                    ratio_min=min(known_ratios) if known_ratios else None,
                    ratio_max=max(known_ratios) if known_ratios else None,
                    ratio_to_post_2013=versus_post,
                    errors=sum(m.errors for m in runs),
                    peak_connections=max(peaks) if peaks else None,
                    allowed_connections=runs[0].allowed_connections,
                    idle_in_transaction=max(idles) if idles else None,
                    worker_rss_mb=max(m.worker_rss_mb for m in runs),
                    round_trips=cost.get("round_trips"),
                    us_per_task=cost.get("us_per_task"),
                )
            )
    return summaries


def _spread(median: float | None, low: float | None, high: float | None) -> str:
    if median is None or low is None or high is None:
        return "n/a"
    return f"{_cell(median)} ({_cell(low)}-{_cell(high)})"


def summary_table(summaries: Sequence[Summary]) -> str:
    header = (
        "pool",
        "workload",
        "rounds x tasks",
        "round trips/task",
        "in-process us/task",
        "tasks/s median (min-max)",
        "vs ceiling median (min-max)",
        "vs post_2013",
        "errors",
        "peak conns (allowed)",
        "idle in tx",
        "worker RSS MB",
    )
    rows = [
        (
            s.pool,
            s.workload,
            f"{s.rounds} x {s.tasks}",
            s.round_trips,
            s.us_per_task,
            _spread(s.tasks_per_second, s.tasks_per_second_min, s.tasks_per_second_max),
            _spread(s.ratio_to_ceiling, s.ratio_min, s.ratio_max),
            s.ratio_to_post_2013,
            s.errors,
            f"{_cell(s.peak_connections)} ({s.allowed_connections})",
            s.idle_in_transaction,
            s.worker_rss_mb,
        )
        for s in summaries
    ]
    return _table(header, rows)


def costs_table(costs: dict[str, dict[str, float]]) -> str:
    driver = costs.get("driver", {}).get("us_per_task")
    rows = [
        (
            path,
            figures.get("us_per_task"),
            None if driver is None else round(figures["us_per_task"] - driver, 1),
            figures.get("round_trips"),
            figures.get("us_per_task_via_proxy"),
        )
        for path, figures in costs.items()
    ]
    header = (
        "path",
        "us/task",
        "us over the bare driver",
        "round trips/task",
        "us/task through the proxy, no delay",
    )
    return _table(header, rows)


def telemetry_text(
    costs: dict[str, float],
    summaries: list[Summary],
    concurrency: int,
    relayed: RelayFigures | None,
) -> str:
    """Telemetry's cost with tracing off, against a task's and a message's whole time."""
    lines = [
        "Telemetry with tracing off (metrics, the log filter, the trace context):",
        f"  {costs['per_task_us']} us per task run,"
        f" {costs['per_message_us']} us per message relayed",
    ]
    for summary in summaries:
        if summary.workload == "get_from_db" and summary.tasks_per_second:
            # Each of the worker's processes spends concurrency / throughput per task.
            task_us = concurrency / summary.tasks_per_second * 1e6
            share = costs["per_task_us"] / task_us
            lines.append(
                f"  {share:.2%} of a get_from_db task's {task_us:,.0f} us"
                f" in a {summary.pool} worker process"
            )
    if relayed is not None and relayed.messages_per_second:
        message_us = 1e6 / relayed.messages_per_second
        share = costs["per_message_us"] / message_us
        lines.append(f"  {share:.2%} of a relayed message's {message_us:,.0f} us")
    return "\n".join(lines)


def long_run_title(run: LongRun) -> str:
    return f"Long run ({run.tasks:,} get_from_db tasks, one {run.pool} worker x{run.concurrency})"


def long_run_table(run: LongRun) -> str:
    header = (
        "tasks done",
        "seconds",
        "worker RSS MB",
        "of which main process",
        "worker open fds",
        "server conns",
    )
    rows: list[Sequence[object]] = [
        (
            s.tasks_done,
            s.seconds,
            s.worker_rss_mb,
            s.main_process_rss_mb,
            s.worker_open_files,
            s.server_connections,
        )
        for s in run.samples
    ]
    growth = run.growth()
    rows.append(
        (
            "growth (last - first)",
            "",
            growth["worker_rss_mb"],
            growth["main_process_rss_mb"],
            growth["worker_open_files"],
            growth["server_connections"],
        )
    )
    return _table(header, rows)


@dataclass(frozen=True)
class Target:
    name: str
    measured: str
    met: bool | None  # None: cannot be measured here (no server to ask)


def distance_title(far: AtDistance) -> str:
    return f"At a network's distance ({far.delay_ms:g} ms each way)"


def distance_table(far: AtDistance) -> str:
    header = (
        "worker processes",
        "rounds x tasks",
        "workload",
        "in-process µs/task",
        "tasks/s median (min-max)",
        "the rest of a process's µs/task",
        "errors",
    )
    rows = []
    for concurrency, rounds in far.rounds_by_concurrency.items():
        for name, path in (
            ("get_from_db", "service"),
            ("post_2013", "post_2013"),
            ("driver", "driver"),
        ):
            per_second = far.tasks_per_second(name, concurrency)
            rows.append(
                (
                    concurrency,
                    f"{len(rounds)} x {rounds[0][name].tasks}",
                    name,
                    far.inprocess_us.get(path),
                    _spread(
                        far.median_tasks_per_second(name, concurrency),
                        min(per_second),
                        max(per_second),
                    ),
                    far.outside_database_us(name, path, concurrency),
                    far.errors(name, concurrency),
                )
            )
    return _table(header, rows)


def distance_note(far: AtDistance) -> str:
    measured = far.measured_one_way_ms()
    if measured is None:
        return "The delay as paid: not known (no in-process run through the proxy without it)."
    return (
        f"The delay as the driver's reads paid it: {measured:g} ms each way for"
        f" {far.delay_ms:g} ms set (the proxy's sleeps and thread hand-offs add the rest)."
    )


def relay_table(figures: RelayFigures) -> str:
    header = (
        "broker",
        "messages",
        "seconds (process start included), median",
        "messages/s, median (min-max)",
        "in the broker",
        "distinct task ids",
        "commit to broker ms, median",
        "worst",
    )
    rows = [
        (
            figures.broker,
            figures.messages,
            figures.seconds,
            f"{_cell(figures.messages_per_second)} ({_cell(figures.messages_per_second_min)}"
            f"-{_cell(figures.messages_per_second_max)})",
            figures.in_broker,
            figures.distinct_task_ids,
            figures.latency_ms_median,
            figures.latency_ms_worst,
        )
    ]
    return _table(header, rows)


def relay_targets(figures: RelayFigures, backend: str) -> list[Target]:
    goal = RELAY_TARGET.get(figures.broker)
    items = [
        Target(
            f"relay ({figures.broker}): every message in the broker once",
            f"{figures.in_broker} of {figures.messages},"
            f" {figures.distinct_task_ids} distinct task ids",
            figures.in_broker == figures.distinct_task_ids == figures.messages,
        ),
        Target(
            f"relay ({figures.broker}): >= {_cell(goal)} messages/s, process start included",
            f"{_cell(figures.messages_per_second)} (the publish path alone:"
            f" {_cell(figures.publish_only_per_second)}/s; a relay process's start:"
            f" {_cell(figures.process_start_seconds)} s)",
            None if goal is None else figures.messages_per_second >= goal,
        ),
    ]
    median, worst = LATENCY_TARGET_MS
    measured = (
        f"{_cell(figures.latency_ms_median)} ms median, {_cell(figures.latency_ms_worst)} ms worst"
    )
    if backend == "postgresql":
        items.append(
            Target(
                f"relay: commit to broker <= {median:g} ms median, <= {worst:g} ms worst (NOTIFY)",
                measured,
                (figures.latency_ms_median or 0) <= median
                and (figures.latency_ms_worst or 0) <= worst,
            )
        )
    else:
        items.append(
            Target(
                f"relay: commit to broker, bounded by OUTBOX_RELAY_EVERY"
                f" ({figures.relay_every_seconds:g} s; {backend} has no NOTIFY)",
                measured,
                None,
            )
        )
    return items


def _rounds(ratios: Sequence[float]) -> str:
    return ", ".join(f"{ratio:.2f}" for ratio in ratios)


def twice_post_2013_needs(far: AtDistance) -> str:
    most = far.celery_time_for_twice_post_2013_us()
    if most is not None and most < 0:
        return "out of reach even if Celery cost nothing: the body takes over half the post's"
    return f"it needs Celery's own time per task <= {_cell(most)} µs"


def distance_targets(far: AtDistance) -> list[Target]:
    versus_post, versus_driver = (
        far.ratio("get_from_db", "post_2013"),
        far.ratio("get_from_db", "driver"),
    )
    return [
        Target(
            f"{far.delay_ms:g} ms away, {far.concurrency} worker process:"
            f" get_from_db >= {DISTANCE_VS_POST_2013:g} x post_2013 tasks/s (median of rounds)",
            f"{_cell(versus_post)} x (rounds: {_rounds(far.ratios('get_from_db', 'post_2013'))};"
            f" {twice_post_2013_needs(far)}; get_from_db's was"
            f" {_cell(far.outside_database_us('get_from_db', 'service'))} µs)",
            None if versus_post is None else versus_post >= DISTANCE_VS_POST_2013,
        ),
        Target(
            f"{far.delay_ms:g} ms away, {far.concurrency} worker process:"
            f" get_from_db >= {DISTANCE_VS_DRIVER:g} x driver tasks/s (median of rounds)",
            f"{_cell(versus_driver)} x (rounds: {_rounds(far.ratios('get_from_db', 'driver'))})",
            None if versus_driver is None else versus_driver >= DISTANCE_VS_DRIVER,
        ),
    ]


def targets(
    summaries: Sequence[Summary],
    backend: str,
    long: LongRun | None,
    far: AtDistance | None = None,
    relayed: RelayFigures | None = None,
) -> list[Target]:
    items = []
    for ours in [s for s in summaries if s.workload == "get_from_db"]:
        ratio = ours.ratio_to_ceiling or 0.0
        versus = ours.ratio_to_post_2013 or 0.0
        peak, idle = ours.peak_connections, ours.idle_in_transaction
        ceiling_errors = sum(
            s.errors for s in summaries if s.pool == ours.pool and s.workload == "ceiling"
        )
        items += [
            Target(
                f"{ours.pool}: get_from_db throughput >= {THROUGHPUT_TARGET} x ceiling (median)",
                _spread(ours.ratio_to_ceiling, ours.ratio_min, ours.ratio_max),
                ratio >= THROUGHPUT_TARGET,
            ),
            Target(
                f"{ours.pool}: get_from_db at least as fast as the 2013 pattern (median)",
                f"{versus:.2f} x post_2013",
                versus >= 1.0,
            ),
            Target(
                f"{ours.pool}: zero errors (ceiling, get_from_db)",
                f"{ceiling_errors}, {ours.errors}",
                ceiling_errors == 0 and ours.errors == 0,
            ),
            Target(
                f"{ours.pool}: peak connections <= one pool per worker process",
                f"{_cell(peak)} <= {ours.allowed_connections}",
                None if peak is None else peak <= ours.allowed_connections,
            ),
            Target(
                f"{ours.pool}: zero connections idle in transaction afterwards",
                _cell(idle),
                None if idle is None else idle == 0,
            ),
        ]
    most_us = INPROCESS_TARGET_US.get(backend)
    body_us = next((s.us_per_task for s in summaries if s.workload == "get_from_db"), None)
    if most_us is not None:
        items.append(
            Target(
                f"get_from_db in-process, its cleanup included, <= {most_us:g} µs ({backend})",
                f"{_cell(body_us)} µs",
                None if body_us is None else body_us <= most_us,
            )
        )
    expected = ROUND_TRIPS_TARGET.get(backend)
    trips = next((s.round_trips for s in summaries if s.workload == "get_from_db"), None)
    items.append(
        Target(
            f"get_from_db round trips per task = {_cell(expected)} ({backend})",
            _cell(trips),
            None if expected is None or trips is None else trips == expected,
        )
    )
    if long is not None:
        growth = long.growth()
        items += [
            Target(
                f"long run: every one of {long.tasks:,} tasks succeeded",
                f"{long.failed} failed, {long.timed_out} timed out",
                long.failed == 0 and long.timed_out == 0,
            ),
            Target(
                "long run: open fds and server connections flat after the first batch",
                f"{_cell(growth['worker_open_files'])} fds, "
                f"{_cell(growth['server_connections'])} connections",
                None
                if growth["worker_open_files"] is None or growth["server_connections"] is None
                else growth["worker_open_files"] <= 0 and growth["server_connections"] <= 0,
            ),
        ]
    if far is not None:
        items += distance_targets(far)
    if relayed is not None:
        items += relay_targets(relayed, backend)
    return items


def targets_text(items: Sequence[Target]) -> str:
    verdicts = {True: "met", False: "NOT met", None: "n/a"}
    return "\n".join(f"- {t.name}: {t.measured} ({verdicts[t.met]})" for t in items)

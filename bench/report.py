"""The benchmark's tables (Markdown, for the terminal and READMEs) and its targets."""

from collections.abc import Sequence
from dataclasses import dataclass

from .workload import Measurement

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
    " process tree at the end."
)


def _cell(value: object) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.2f}" if value < 10 else f"{value:,.0f}"
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
class Target:
    name: str
    measured: str
    met: bool | None  # None: cannot be measured here (no server to ask)


def targets(ceiling: Measurement, ours: Measurement) -> list[Target]:
    ratio = ours.ratio_to_ceiling or 0.0
    peak, idle = ours.peak_connections, ours.idle_in_transaction
    return [
        Target(
            f"get_from_db throughput >= {THROUGHPUT_TARGET} x ceiling",
            f"{ratio:.2f}",
            ratio >= THROUGHPUT_TARGET,
        ),
        Target(
            "zero errors (ceiling, get_from_db)",
            f"{ceiling.errors}, {ours.errors}",
            ceiling.errors == 0 and ours.errors == 0,
        ),
        Target(
            "peak connections <= one pool per worker process",
            f"{_cell(peak)} <= {ours.allowed_connections}",
            None if peak is None else peak <= ours.allowed_connections,
        ),
        Target(
            "zero connections idle in transaction afterwards",
            _cell(idle),
            None if idle is None else idle == 0,
        ),
    ]


def targets_text(items: Sequence[Target], baseline: Measurement) -> str:
    verdicts = {True: "met", False: "NOT met", None: "n/a"}
    lines = [f"- {t.name}: {t.measured} ({verdicts[t.met]})" for t in items]
    lines.append(
        f"- post-2013 baseline beside it: {baseline.errors} errors,"
        f" peak conns {_cell(baseline.peak_connections)} (allowed {baseline.allowed_connections}),"
        f" idle in tx {_cell(baseline.idle_in_transaction)},"
        f" {_cell(baseline.ratio_to_ceiling)} x ceiling"
    )
    return "\n".join(lines)

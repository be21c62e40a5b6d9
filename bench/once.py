"""What ``once=True`` costs: the same write task with and without it, in the same run.

``rename_user`` commits one UPDATE of a user; ``rename_user_once`` is the same
body marked ``once=True``, so the plumbing commits the UPDATE with the
message's record (one INSERT more). Both run in alternating rounds on fresh
workers (``workload.measure``, the main table's way), and in-process with
their round trips counted through the proxy (``inprocess.costs``).
"""

import statistics
from dataclasses import asdict, dataclass, field
from typing import Any

from . import inprocess
from .report import _cell, _table
from .workload import Measurement, Setup, Workload, measure

PATHS = ("write", "write_once")
TASKS = {"write": "bench.tasks.rename_user", "write_once": "bench.tasks.rename_user_once"}


@dataclass
class OnceFigures:
    rounds: list[dict[str, Measurement]] = field(default_factory=list)
    inprocess: dict[str, dict[str, float]] = field(default_factory=dict)

    def ratios(self) -> list[float]:
        """Each round's write_once tasks/s over write's: 1.0 would mean free."""
        return [
            round(r["write_once"].tasks_per_second / r["write"].tasks_per_second, 3)
            for r in self.rounds
            if r["write"].tasks_per_second > 0
        ]

    def median(self, path: str, name: str) -> float | None:
        values = [getattr(r[path], name) for r in self.rounds]
        known = [v for v in values if v is not None]
        return round(statistics.median(known), 1) if known else None

    def as_json(self) -> dict[str, Any]:
        return {
            "rounds": [
                {path: asdict(m) | {"errors": m.errors} for path, m in r.items()}
                for r in self.rounds
            ],
            "inprocess": self.inprocess,
            "ratios": self.ratios(),
        }


def measure_once(
    setup: Setup, pool_size: int, max_overflow: int, rounds: int, calls: int, env: dict[str, str]
) -> OnceFigures:
    figures = OnceFigures()
    if calls:
        figures.inprocess = inprocess.costs(
            setup.database_url, setup.users, calls, {**env}, paths=PATHS
        )
    for _ in range(rounds):
        figures.rounds.append(
            {
                path: measure(Workload(path, TASKS[path], pool_size, max_overflow), setup)
                for path in PATHS
            }
        )
    return figures


def once_table(figures: OnceFigures) -> str:
    header = (
        "task",
        "tasks/s, median",
        "p50 ms, median",
        "errors",
        "in-process us/task",
        "round trips/task",
    )
    rows = [
        (
            path,
            figures.median(path, "tasks_per_second"),
            figures.median(path, "p50_ms"),
            sum(r[path].errors for r in figures.rounds),
            figures.inprocess.get(path, {}).get("us_per_task"),
            figures.inprocess.get(path, {}).get("round_trips"),
        )
        for path in PATHS
    ]
    ratios = figures.ratios()
    note = (
        f"write_once / write, tasks/s: {_cell(statistics.median(ratios))} median of"
        f" {len(ratios)} round(s) ({', '.join(_cell(r) for r in ratios)})"
        if ratios
        else "write_once / write: n/a"
    )
    return f"{_table(header, rows)}\n\n{note}"

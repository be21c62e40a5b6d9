"""One measured run: a fresh worker, N tasks sent, every result collected.

Each run starts its own ``celery worker`` with the project's
``scripts.processes`` (the command its tests' workers run, so the same app
settings), so its memory and connections belong to that workload alone.
"""

import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from celery.backends.base import KeyValueStoreBackend
from celery.exceptions import TimeoutError as CeleryTimeoutError
from celery.result import AsyncResult
from my_service.celery import app
from scripts.processes import ChildProcess, running_worker, worker_command

from .server_state import PeakConnections, idle_in_transaction, open_connections

# Modules the benchmark's workers load on top of the app's own tasks.
INCLUDE = ("bench.tasks", "bench.post_2013")
# Results are polled in send order, this many at a time: a bounded cost for
# the client, which shares the machine with the worker it measures.
POLL_WINDOW = 1_000
POLL_EVERY = 0.02
# Time for the last task's cleanup (after_return runs after its result is
# stored) before counting connections left in a transaction.
SETTLE = 0.5
READY_STATES = frozenset({"SUCCESS", "FAILURE", "REVOKED"})


@dataclass(frozen=True)
class Workload:
    name: str
    task: str
    # The pool of the engine the task uses: what the server must allow.
    pool_size: int
    max_overflow: int
    # True when each thread opens connections of its own instead of sharing
    # its process's pool (the bare-driver task).
    per_thread: bool = False


@dataclass(frozen=True)
class Setup:
    tasks: int
    pool: str
    concurrency: int
    users: int
    database_url: str
    queue: str
    log_dir: Path
    env: dict[str, str]


@dataclass
class Measurement:
    workload: str
    tasks: int
    pool: str
    concurrency: int
    seconds: float
    tasks_per_second: float
    send_seconds: float
    p50_ms: float | None
    p99_ms: float | None
    failed: int
    timed_out: int
    retries: int
    peak_connections: int | None
    allowed_connections: int
    idle_in_transaction: int | None
    worker_rss_mb: float
    worker_log_errors: int
    ratio_to_ceiling: float | None = None

    @property
    def errors(self) -> int:
        return self.failed + self.timed_out


@dataclass
class Outcome:
    state: str
    done_at: float | None
    retries: int


def allowed_connections(workload: Workload, pool: str, concurrency: int) -> int:
    """One pool's worth per worker process (or thread), plus the main process's connection."""
    holders = concurrency if pool == "prefork" or workload.per_thread else 1
    return holders * (workload.pool_size + workload.max_overflow) + 1


def timestamp(date_done: Any) -> float | None:
    """Seconds since the epoch from a result's ``date_done`` (naive means UTC)."""
    if date_done is None:
        return None
    parsed = date_done if isinstance(date_done, datetime) else datetime.fromisoformat(date_done)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def outcome_from_meta(meta: dict[str, Any]) -> Outcome:
    return Outcome(meta["status"], timestamp(meta.get("date_done")), int(meta.get("retries") or 0))


class Progress:
    """A line on stderr at every tenth of the results."""

    def __init__(self, label: str, total: int, started: float) -> None:
        self.label = label
        self.total = total
        self.started = started
        self.next_tenth = 1

    def __call__(self, done: int) -> None:
        while self.total and done * 10 >= self.next_tenth * self.total and self.next_tenth <= 10:
            elapsed = time.monotonic() - self.started
            print(
                f"  {self.label}: {self.next_tenth * 10}% ({done}/{self.total}) {elapsed:.1f}s",
                file=sys.stderr,
                flush=True,
            )
            self.next_tenth += 1


def collect_from_key_value_store(
    backend: Any, ids: list[str], deadline: float, progress: Callable[[int], None]
) -> dict[str, Outcome]:
    """Poll the oldest pending results with one MGET per round (Redis and the like)."""
    outcomes: dict[str, Outcome] = {}
    pending = list(ids)
    while pending and time.monotonic() < deadline:
        window = pending[:POLL_WINDOW]
        values = backend.mget([backend.get_key_for_task(task_id) for task_id in window])
        for task_id, value in zip(window, values, strict=True):
            if value is not None:
                meta = backend.decode_result(value)
                if meta["status"] in READY_STATES:
                    outcomes[task_id] = outcome_from_meta(meta)
        still_pending = [task_id for task_id in window if task_id not in outcomes]
        pending = still_pending + pending[POLL_WINDOW:]
        progress(len(outcomes))
        if pending:
            time.sleep(POLL_EVERY)
    return outcomes


def collect_one_by_one(
    results: list[AsyncResult],  # type: ignore[type-arg]
    deadline: float,
    progress: Callable[[int], None],
) -> dict[str, Outcome]:
    """Wait for each result in turn (RPC and database result backends)."""
    outcomes: dict[str, Outcome] = {}
    for result in results:
        try:
            result.get(timeout=max(0.1, deadline - time.monotonic()), propagate=False)
        except CeleryTimeoutError:
            continue
        done_at = timestamp(result.date_done)
        outcomes[result.id] = Outcome(result.state, done_at, result.retries or 0)
        progress(len(outcomes))
    return outcomes


def forget(results: list[AsyncResult]) -> None:  # type: ignore[type-arg]
    """Delete the stored results, so repeated runs do not fill the result backend."""
    client = getattr(app.backend, "client", None)
    if isinstance(app.backend, KeyValueStoreBackend) and client is not None:
        keys = [app.backend.get_key_for_task(result.id) for result in results]
        for start in range(0, len(keys), 1_000):
            client.delete(*keys[start : start + 1_000])
        return
    for result in results:
        try:
            result.forget()
        except NotImplementedError:  # RPC: results are messages, already consumed
            return


def worker_rss_mb(worker: ChildProcess) -> float:
    """Resident memory of the worker and all its pool processes."""
    parent = psutil.Process(worker.process.pid)
    processes = [parent, *parent.children(recursive=True)]
    total = 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total / 2**20


def percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(fraction * 100) - 1]


def wait_for_no_connections(database_url: str, timeout: float = 10) -> None:
    """Let the server finish closing the previous worker's connections.

    Otherwise a backend still exiting would be counted in this workload's peak.
    """
    deadline = time.monotonic() + timeout
    while (open_connections(database_url) or 0) > 0 and time.monotonic() < deadline:
        time.sleep(0.1)


def measure(workload: Workload, setup: Setup) -> Measurement:
    """Run ``setup.tasks`` of ``workload`` on a fresh worker and measure them."""
    label = f"{workload.name} {setup.tasks} tasks {setup.pool} x{setup.concurrency}"
    log = setup.log_dir / f"{workload.name}-{setup.tasks}-{setup.pool}-{setup.concurrency}.log"
    print(f"{label}: starting a worker (log: {log})", file=sys.stderr, flush=True)
    # Generous: even a slow machine moves a few tasks a second per process.
    deadline_seconds = 60 + setup.tasks / 5
    wait_for_no_connections(setup.database_url)
    with (
        PeakConnections(setup.database_url) as connections,
        running_worker(
            log,
            worker_command(
                pool=setup.pool,
                concurrency=setup.concurrency,
                node_name=f"bench-{workload.name}-{setup.queue}",
                queue=setup.queue,
                include=INCLUDE,
            ),
            setup.env,
        ) as worker,
    ):
        started = time.monotonic()
        sent_at: dict[str, float] = {}
        results = []
        for n in range(setup.tasks):
            user_id = 1 + n % setup.users
            sent = time.time()
            result = app.send_task(workload.task, args=(user_id,), queue=setup.queue)
            sent_at[result.id] = sent
            results.append(result)
        send_seconds = time.monotonic() - started
        print(f"  {label}: sent in {send_seconds:.1f}s", file=sys.stderr, flush=True)

        deadline = started + deadline_seconds
        progress = Progress(label, setup.tasks, started)
        if isinstance(app.backend, KeyValueStoreBackend):
            outcomes = collect_from_key_value_store(
                app.backend, [r.id for r in results], deadline, progress
            )
        else:
            outcomes = collect_one_by_one(results, deadline, progress)

        time.sleep(SETTLE)
        # Stop sampling first: the check below opens a connection of its own.
        connections.stop()
        idle = idle_in_transaction(setup.database_url)
        rss = worker_rss_mb(worker)
        log_errors = sum("ERROR/" in line for line in worker.log().splitlines())

    forget(results)
    latencies = [
        (outcome.done_at - sent_at[task_id]) * 1000
        for task_id, outcome in outcomes.items()
        if outcome.done_at is not None
    ]
    done_times = [o.done_at for o in outcomes.values() if o.done_at is not None]
    first_send = min(sent_at.values())
    seconds = max(done_times) - first_send if done_times else 0.0
    return Measurement(
        workload=workload.name,
        tasks=setup.tasks,
        pool=setup.pool,
        concurrency=setup.concurrency,
        seconds=round(seconds, 3),
        tasks_per_second=round(len(done_times) / seconds, 1) if seconds > 0 else 0.0,
        send_seconds=round(send_seconds, 3),
        p50_ms=_round(percentile(latencies, 0.50)),
        p99_ms=_round(percentile(latencies, 0.99)),
        failed=sum(o.state != "SUCCESS" for o in outcomes.values()),
        timed_out=setup.tasks - len(outcomes),
        retries=sum(o.retries for o in outcomes.values()),
        peak_connections=connections.peak,
        allowed_connections=allowed_connections(workload, setup.pool, setup.concurrency),
        idle_in_transaction=idle,
        worker_rss_mb=round(rss, 1),
        worker_log_errors=log_errors,
    )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)

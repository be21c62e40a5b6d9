"""A long run: tens of thousands of tasks through one worker, its resources sampled.

A leak shows over time, not in a five-second round: a session or connection
not given back, a file descriptor left open, memory that grows with every
task. The tasks go out in batches (a bounded queue, a bounded client); after
each batch, once its results are in, the run samples the worker's process
tree (resident memory, open file descriptors) and the database's connections.
The first sample comes after the first batch, once every pool process has
connected and warmed up, so growth is measured from there.
"""

import sys
import time
from dataclasses import dataclass, field

import psutil
from celery.backends.base import KeyValueStoreBackend
from my_service.celery import app
from scripts.processes import ChildProcess, running_worker, worker_command

from .server_state import open_connections
from .workload import (
    INCLUDE,
    Outcome,
    Progress,
    Setup,
    collect_from_key_value_store,
    collect_one_by_one,
    forget,
    worker_rss_mb,
)

TASK = "my_service.tasks.get_from_db"
BATCHES = 10


@dataclass(frozen=True)
class Sample:
    tasks_done: int
    seconds: float
    worker_rss_mb: float
    # The part of worker_rss_mb in the main process (the consumer; the prefork
    # pool's parent), to tell its growth from the pool processes'.
    main_process_rss_mb: float
    worker_open_files: int
    server_connections: int | None


@dataclass
class LongRun:
    tasks: int
    pool: str
    concurrency: int
    seconds: float = 0.0
    failed: int = 0
    timed_out: int = 0
    samples: list[Sample] = field(default_factory=list)

    def growth(self) -> dict[str, float | None]:
        """Last sample minus first: what the run added after warming up."""
        if len(self.samples) < 2:
            return dict.fromkeys(
                ("worker_rss_mb", "main_process_rss_mb", "worker_open_files", "server_connections")
            )
        first, last = self.samples[0], self.samples[-1]
        connections = None
        if first.server_connections is not None and last.server_connections is not None:
            connections = last.server_connections - first.server_connections
        return {
            "worker_rss_mb": round(last.worker_rss_mb - first.worker_rss_mb, 1),
            "main_process_rss_mb": round(last.main_process_rss_mb - first.main_process_rss_mb, 1),
            "worker_open_files": last.worker_open_files - first.worker_open_files,
            "server_connections": connections,
        }


def worker_open_files(worker: ChildProcess) -> int:
    """File descriptors held by the worker and its pool processes (sockets, pipes, files)."""
    parent = psutil.Process(worker.process.pid)
    total = 0
    for process in [parent, *parent.children(recursive=True)]:
        try:
            total += process.num_fds()
        except psutil.NoSuchProcess:
            continue
    return total


def run_batch(setup: Setup, first_user: int, count: int, deadline: float) -> dict[str, Outcome]:
    results = [
        app.send_task(TASK, args=(1 + (first_user + n) % setup.users,), queue=setup.queue)
        for n in range(count)
    ]
    quiet = Progress("", 0, time.monotonic())  # no lines per batch: one per sample instead
    if isinstance(app.backend, KeyValueStoreBackend):
        outcomes = collect_from_key_value_store(
            app.backend, [r.id for r in results], deadline, quiet
        )
    else:
        outcomes = collect_one_by_one(results, deadline, quiet)
    forget(results)
    return outcomes


def long_run(setup: Setup) -> LongRun:
    """Send ``setup.tasks`` get_from_db tasks to one worker, in ``BATCHES`` batches."""
    label = f"long run {setup.tasks} tasks {setup.pool} x{setup.concurrency}"
    log = setup.log_dir / f"long-run-{setup.tasks}-{setup.pool}-{setup.concurrency}.log"
    print(f"{label}: starting a worker (log: {log})", file=sys.stderr, flush=True)
    run = LongRun(setup.tasks, setup.pool, setup.concurrency)
    batch = max(1, setup.tasks // BATCHES)
    command = worker_command(
        pool=setup.pool,
        concurrency=setup.concurrency,
        node_name=f"bench-long-run-{setup.queue}",
        queue=setup.queue,
        include=INCLUDE,
    )
    with running_worker(log, command, setup.env) as worker:
        started = time.monotonic()
        done = 0
        while done < setup.tasks:
            count = min(batch, setup.tasks - done)
            outcomes = run_batch(setup, done, count, time.monotonic() + 60 + count / 5)
            run.failed += sum(o.state != "SUCCESS" for o in outcomes.values())
            run.timed_out += count - len(outcomes)
            done += count
            sample = Sample(
                tasks_done=done,
                seconds=round(time.monotonic() - started, 1),
                worker_rss_mb=round(worker_rss_mb(worker), 1),
                main_process_rss_mb=round(
                    psutil.Process(worker.process.pid).memory_info().rss / 2**20, 1
                ),
                worker_open_files=worker_open_files(worker),
                server_connections=open_connections(setup.database_url),
            )
            run.samples.append(sample)
            print(f"  {label}: {sample}", file=sys.stderr, flush=True)
        run.seconds = round(time.monotonic() - started, 1)
    return run

"""``python -m bench.relay``: the outbox relay's messages per second and commit-to-broker latency.

Throughput: N messages wait in the outbox; ``python -m my_service.relay
--once`` is timed whole, its process start included, and the broker must then
hold exactly N messages, with N distinct task ids; ``ROUNDS`` times, each
round followed by the publish path alone (below). Latency: with the relay
running and idle, a message is committed, and the time until a reader gets it
from the broker is taken (``broker_queue``); then the relay idles again, 30
times (after one that is not counted). Both run in a database of their own, on
a queue of their own, on the broker in ``CELERY_BROKER_URL``.

For scale, ``python -m bench.relay --publish-only N`` (run in a process of its
own) times the relay's publish path alone on N messages held in memory: the
same ``TaskPublisher`` and ``publish_batch`` in batches of ``BATCH_SIZE``, no
database and no process start; and a process that only imports the relay is
timed. Whatever its database does, the relay takes at least both together."""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from types import SimpleNamespace

from my_service.celery import app
from my_service.config import settings
from my_service.delivery.batch_publish import batch_connection, publish_batch
from my_service.outbox import OutboxMessage, add_to_outbox
from my_service.outbox.publishing import BATCH_SIZE, TaskPublisher
from sqlalchemy import create_engine, func, insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from . import broker_queue, database
from .database import PROJECT_ROOT
from .inprocess import json_from

TASK = "my_service.tasks.get_from_db"
LATENCY_MESSAGES = 30
# The relay idles between two latency messages: each one wakes it anew. Without
# NOTIFY (MariaDB) a message then waits for the next pass, OUTBOX_RELAY_EVERY
# after the last: about that interval minus this idle time, every time.
IDLE_BETWEEN = 0.2
INSERT_BATCH = 5_000
# The relay's figure drifts with the machine's by up to a fifth within an hour.
ROUNDS = 3


@dataclass
class RelayFigures:
    broker: str
    messages: int
    rounds: int
    # Medians over the rounds, and the range of messages/s.
    seconds: float
    messages_per_second: float
    messages_per_second_min: float
    messages_per_second_max: float
    in_broker: int
    distinct_task_ids: int
    latency_ms_median: float | None
    latency_ms_worst: float | None
    latency_samples: int
    latency_ms: list[float]
    # OUTBOX_RELAY_EVERY: without NOTIFY (MariaDB), the bound on the latency.
    relay_every_seconds: float
    # Medians: the publish path alone (--publish-only), and a relay process that only starts.
    publish_only_per_second: int | None = None
    process_start_seconds: float | None = None


def add_waiting(database_url: str, count: int) -> None:
    """``count`` messages for get_from_db, committed, as the application leaves them."""
    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            for start in range(0, count, INSERT_BATCH):
                rows = [
                    {
                        "task_id": str(uuid.uuid4()),
                        "task_name": TASK,
                        "args": [1 + n],
                        "kwargs": {},
                        "options": {},
                    }
                    for n in range(start, min(start + INSERT_BATCH, count))
                ]
                connection.execute(insert(OutboxMessage), rows)
    finally:
        engine.dispose()


def unsent(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            query = select(func.count()).where(OutboxMessage.sent_at.is_(None))
            return int(connection.execute(query).scalar_one())
    finally:
        engine.dispose()


def relay_env(database_url: str, queue: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": database_url, "CELERY_QUEUE": queue}


def throughput(database_url: str, queue: str, count: int) -> tuple[float, int, int]:
    """Seconds for ``--once`` to publish ``count`` waiting messages; the broker's count of
    messages, and of distinct task ids, in the queue afterwards."""
    add_waiting(database_url, count)
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-m", "my_service.relay", "--once"],
        cwd=PROJECT_ROOT,
        env=relay_env(database_url, queue),
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if completed.returncode != 0 or unsent(database_url):
        raise RuntimeError(f"the relay left messages unsent:\n{completed.stderr}")
    in_broker = broker_queue.length(queue)
    return seconds, in_broker, len(set(broker_queue.task_ids(queue)))


def publish_only(count: int) -> float:
    """Seconds to publish ``count`` messages held in memory as the relay publishes them."""
    # What the relay's query returns for add_waiting's rows.
    messages = [
        SimpleNamespace(
            task_id=str(uuid.uuid4()),
            task_name=TASK,
            args=[1 + n],
            kwargs={},
            options={},
            trace_context=None,
        )
        for n in range(count)
    ]
    publisher = TaskPublisher(app)
    started = time.perf_counter()
    for start in range(0, count, BATCH_SIZE):
        with batch_connection(app) as connection:
            batch = messages[start : start + BATCH_SIZE]
            refused = publish_batch(connection, batch, publisher.publish)
        if refused:
            raise RuntimeError(f"the broker refused {len(refused)} message(s)")
    return time.perf_counter() - started


def publish_only_figures(database_url: str, queue: str, count: int) -> tuple[float, float]:
    """Seconds for ``publish_only`` in a process of its own, on ``queue``, and for a
    process that only starts the relay (its imports)."""
    env = relay_env(database_url, queue)
    seconds = float(json_from("bench.relay", "--publish-only", str(count), env=env)["seconds"])
    if broker_queue.length(queue) != count:
        raise RuntimeError(f"publish-only left {broker_queue.length(queue)} of {count} messages")
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", "import my_service.relay"],
        cwd=PROJECT_ROOT,
        env=env,
        check=True,
    )
    return seconds, time.perf_counter() - started


def latencies(database_url: str, queue: str, log: Path, count: int) -> list[float]:
    """Milliseconds from each commit to the message's arrival, the relay idle in between."""
    engine = create_engine(database_url)
    with (
        log.open("w") as log_file,
        subprocess.Popen(
            [sys.executable, "-m", "my_service.relay"],
            cwd=PROJECT_ROOT,
            env=relay_env(database_url, queue),
            stdout=log_file,
            stderr=subprocess.STDOUT,
        ) as relay,
        broker_queue.arrivals(queue) as arrivals,
    ):
        try:
            deadline = time.monotonic() + 60
            while "relay started" not in log.read_text():
                if time.monotonic() > deadline or relay.poll() is not None:
                    raise RuntimeError(f"the relay did not start:\n{log.read_text()}")
                time.sleep(0.05)
            samples = []
            # One more than counted: the first pays for what happens once (the
            # relay's first publish, the reader's first poll).
            for n in range(count + 1):
                time.sleep(IDLE_BETWEEN)
                with Session(engine) as session:
                    task_id = add_to_outbox(session, TASK, [1 + n])
                    session.commit()
                committed = time.perf_counter()
                samples.append((arrivals.wait_for(task_id) - committed) * 1000)
            return samples[1:]
        finally:
            relay.terminate()
            relay.wait(timeout=30)
            engine.dispose()


def measure(
    database_url: str, count: int, latency_messages: int, log_dir: Path, rounds: int = ROUNDS
) -> RelayFigures:
    queue = f"bench-relay-{uuid.uuid4().hex[:8]}"
    timed, alone, starts, held, distinct = [], [], [], [], []
    try:
        # Alternating, like the worker's rounds: a machine that drifts moves both alike.
        for _ in range(rounds):
            seconds, in_broker, distinct_ids = throughput(database_url, queue, count)
            timed.append(seconds)
            held.append(in_broker)
            distinct.append(distinct_ids)
            broker_queue.delete(queue)
            publishing, start = publish_only_figures(database_url, queue, count)
            alone.append(publishing)
            starts.append(start)
            broker_queue.delete(queue)
        samples = latencies(database_url, queue, log_dir / "relay.log", latency_messages)
    finally:
        broker_queue.delete(queue)
    per_second = sorted(round(count / seconds) for seconds in timed)
    scheme = make_url(database_url).get_backend_name()
    print(
        f"  relay on {scheme}: {statistics.median(per_second):,.0f} messages/s",
        file=sys.stderr,
        flush=True,
    )
    return RelayFigures(
        broker=app.conf.broker_url.split(":", 1)[0],
        messages=count,
        rounds=rounds,
        seconds=round(statistics.median(timed), 2),
        messages_per_second=round(statistics.median(per_second)),
        messages_per_second_min=per_second[0],
        messages_per_second_max=per_second[-1],
        # The first round whose broker did not hold exactly ``count``, if any.
        in_broker=next((n for n in held if n != count), count),
        distinct_task_ids=next((n for n in distinct if n != count), count),
        latency_ms_median=round(statistics.median(samples), 1) if samples else None,
        latency_ms_worst=round(max(samples), 1) if samples else None,
        latency_samples=len(samples),
        latency_ms=[round(sample, 1) for sample in samples],
        relay_every_seconds=settings.outbox_relay_every,
        publish_only_per_second=round(count / statistics.median(alone)),
        process_start_seconds=round(statistics.median(starts), 2),
    )


def main(argv: list[str] | None = None) -> None:
    """The relay alone, in a bench database of its own (the RabbitMQ bake runs only this)."""
    # Imported here: report imports RelayFigures from this module.
    from . import machine, report

    parser = argparse.ArgumentParser(prog="python -m bench.relay")
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--latency-messages", type=int, default=LATENCY_MESSAGES)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--json", type=Path, default=Path("var/bench/relay.json"))
    parser.add_argument("--publish-only", type=int, metavar="N", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be positive")
    if args.publish_only:
        print(json.dumps({"seconds": publish_only(args.publish_only)}))
        return
    log_dir = Path("var/bench/logs")
    log_dir.mkdir(parents=True, exist_ok=True)
    described = machine.describe(settings.database_url)
    database_url = database.bench_database_url(
        settings.database_url, uuid.uuid4().hex[:8], Path("var/bench")
    )
    database.create_and_migrate(database_url)
    try:
        figures = measure(database_url, args.messages, args.latency_messages, log_dir, args.rounds)
    finally:
        database.drop(database_url)
    backend = make_url(settings.database_url).get_backend_name()
    targets = report.relay_targets(figures, backend)
    load_at_end = [round(load, 2) for load in os.getloadavg()]
    print(f"\nThe outbox relay:\n\n{report.relay_table(figures)}\n")
    print(f"Targets:\n{report.targets_text(targets)}\n")
    print(
        f"Machine: {described['cores']} cores, {described['database_server']},"
        f" {described['broker_server']}; load average at start"
        f" {described['load_average_at_start'][0]}, at the end {load_at_end[0]}"
    )
    results = asdict(figures) | {
        "targets": [asdict(t) for t in targets],
        "machine": described,
        "load_average_at_end": load_at_end,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"JSON: {args.json}")


if __name__ == "__main__":
    main()

"""`make bench` runs end to end: bake, install, the benchmark on both databases, its JSON.

A tiny task count, one round and no suite timing keep it short; nothing here
depends on speed, only on the figures being there and the ones that are not
speed (errors, connections, round trips, every relayed message once) holding.
The delaying proxy has a test of its own, which does measure time: a delay far
above the machine's jitter.
"""

import json
import os
import socket
import threading
import time
from pathlib import Path

from bench.round_trips import RoundTripCounter

from .conftest import BIN, TEMPLATE, require_servers, run
from .test_generated_suites import MARIADB, POSTGRES, REDIS

WORKLOADS = ["ceiling", "get_from_db", "post_2013", "driver"]
TASKS = 200
LONG_RUN = 400
RELAY_MESSAGES = 300
LATENCY_MESSAGES = 5
DISTANCE_TASKS = 100
# Long enough that the machine's own jitter cannot pass for it.
PROXY_DELAY = 0.2
# get_from_db's round trips: the SELECT in autocommit on PostgreSQL; the SELECT
# and the ROLLBACK ending its snapshot on MariaDB. The 2013 pattern: BEGIN,
# SELECT, ROLLBACK on PostgreSQL (psycopg sends BEGIN); SELECT, ROLLBACK, and the
# pool's own ROLLBACK on return on MariaDB.
ROUND_TRIPS = {
    "postgresql": {"service": 1.0, "post_2013": 3.0, "driver": 1.0},
    "mysql": {"service": 2.0, "post_2013": 3.0, "driver": 1.0},
}
# One write committed by the task (BEGIN, UPDATE, COMMIT on PostgreSQL, where
# psycopg sends BEGIN; UPDATE, COMMIT on MariaDB), and with once=True: the
# record's INSERT more, nothing else.
ONCE_ROUND_TRIPS = {
    "postgresql": {"write": 3.0, "write_once": 4.0},
    "mysql": {"write": 2.0, "write_once": 3.0},
}


def test_make_bench_reports_every_workload_on_both_databases(tmp_path: Path) -> None:
    require_servers(POSTGRES, f"{REDIS}/0")
    require_servers(MARIADB, f"{REDIS}/0")
    bench_dir = tmp_path / "bench"

    output = run(
        "make",
        "--no-print-directory",
        "bench",
        cwd=TEMPLATE,
        env={
            "PATH": f"{BIN}:{os.environ['PATH']}",
            "BENCH_DIR": str(bench_dir),
            "BENCH_ARGS": f"--tasks {TASKS} --rounds 1 --inprocess-calls 200 --long-run {LONG_RUN}"
            f" --relay-messages {RELAY_MESSAGES} --latency-messages {LATENCY_MESSAGES}"
            f" --relay-rounds 1 --pgbouncer-tasks {TASKS} --pgbouncer-rounds 1",
            # At a distance on PostgreSQL only: the proxy and the workers are the
            # same on MariaDB (whose round trips the proxy counts above), and
            # each workload costs a worker's start.
            "BENCH_ARGS_POSTGRESQL": f"--distance-tasks {DISTANCE_TASKS} --distance-rounds 2",
            "BENCH_ARGS_MYSQL": "--network-delay-ms 0",
            "BENCH_SUITE": "0",
            "BENCH_RABBITMQ_ARGS": f"--messages {RELAY_MESSAGES}"
            f" --latency-messages {LATENCY_MESSAGES} --rounds 1",
        },
        timeout=1200,
    ).stdout

    assert "| pool | workload | rounds x tasks | round trips/task |" in output
    assert "In-process, per task:" in output
    assert "Template bake:" in output
    assert "Targets:" in output
    assert f"Long run ({LONG_RUN} get_from_db tasks" in output
    assert "once=True against the same write (prefork pool):" in output
    assert "write_once / write, tasks/s:" in output

    assert "At a network's distance (0.5 ms each way):" in output
    assert "The outbox relay:" in output
    assert "get_from_db through PgBouncer (transaction mode" in output
    for relay_label in ("PostgreSQL + Redis", "MariaDB + Redis", "PostgreSQL + RabbitMQ"):
        assert f"Outbox relay, {relay_label}" in output

    results = json.loads((bench_dir / "results.json").read_text())
    assert results["bake_seconds"] > 0
    rabbitmq = results["rabbitmq_relay"]
    assert rabbitmq["broker"] == "amqp", rabbitmq
    assert rabbitmq["in_broker"] == rabbitmq["distinct_task_ids"] == RELAY_MESSAGES, rabbitmq
    assert rabbitmq["latency_samples"] == LATENCY_MESSAGES
    assert results["suite_seconds"] is None
    for database, server in (("postgresql", "PostgreSQL"), ("mysql", "MySQL/MariaDB")):
        bench = results["bench"][database]
        assert bench["machine"]["cores"] == os.cpu_count()
        assert bench["machine"]["database_server"].startswith(server), bench["machine"]
        assert bench["scaling"] == []
        # The generated project's own JSON, which the template's wraps.
        assert (bench_dir / database / "my-service" / "var" / "bench" / "results.json").exists()
        long_run = bench["long_run"]
        assert (long_run["failed"], long_run["timed_out"]) == (0, 0), long_run
        assert [s["tasks_done"] for s in long_run["samples"]] == list(range(40, 401, 40))
        assert all(s["worker_open_files"] > 0 for s in long_run["samples"])
        assert all(s["server_connections"] >= 1 for s in long_run["samples"])
        assert {path: c["round_trips"] for path, c in bench["inprocess"].items()} == ROUND_TRIPS[
            database
        ]
        assert all(c["us_per_task"] > 0 for c in bench["inprocess"].values())
        once = bench["once"]
        once_trips = {path: c["round_trips"] for path, c in once["inprocess"].items()}
        assert once_trips == ONCE_ROUND_TRIPS[database]
        assert [set(r) for r in once["rounds"]] == [{"write", "write_once"}]
        assert all(m["errors"] == 0 for r in once["rounds"] for m in r.values()), once
        assert len(once["ratios"]) == 1
        assert set(bench["telemetry_tracing_off"]) == {"per_task_us", "per_message_us"}
        summary = {(s["pool"], s["workload"]): s for s in bench["summary"]}
        assert set(summary) == {(p, w) for p in ("prefork", "threads") for w in WORKLOADS}
        for key, figures in summary.items():
            assert figures["tasks_per_second"] > 0, key
            assert figures["peak_connections"] >= 1, key
        for pool in ("prefork", "threads"):
            ours = summary[(pool, "get_from_db")]
            assert ours["errors"] == 0, ours
            assert summary[(pool, "ceiling")]["errors"] == 0
            assert ours["peak_connections"] <= ours["allowed_connections"]
            assert ours["idle_in_transaction"] == 0
            assert ours["ratio_to_post_2013"] is not None
        assert len(bench["workloads"]) == 2 * len(WORKLOADS)
        assert all(w["timed_out"] == 0 for w in bench["workloads"])
        relay = bench["relay"]
        assert relay["broker"] == "redis", relay
        assert relay["in_broker"] == relay["distinct_task_ids"] == RELAY_MESSAGES, relay
        assert relay["latency_samples"] == LATENCY_MESSAGES
        # The relay's latency target: NOTIFY's on PostgreSQL, the polling's bound on MariaDB.
        latency_target = next(t for t in bench["targets"] if "commit to broker" in t["name"])
        assert ("OUTBOX_RELAY_EVERY" in latency_target["name"]) == (database == "mysql")
        pooled = bench["pgbouncer"]
        far = bench["at_distance"]
        if database == "mysql":
            assert pooled is None
            assert far is None
            continue
        # Through PgBouncer, all on its server connections, as many round trips
        # as direct; the timeout by SET LOCAL would add BEGIN, SET and ROLLBACK.
        for kind in ("direct", "pgbouncer"):
            assert [r["errors"] for r in pooled["rounds"][kind]] == [0], pooled
        assert pooled["rounds"]["pgbouncer"][0]["peak_connections"] <= pooled["pool_size"]
        trips = {path: c["round_trips"] for path, c in pooled["inprocess"].items()}
        assert trips == {
            "direct service": 1.0,
            "pgbouncer service": 1.0,
            "pgbouncer set_local": 4.0,
        }
        assert far["delay_ms"] == 0.5
        # The targets' one worker process, two rounds; then one round on as many as the rounds ran.
        assert (far["concurrency"], far["rounds"]) == (1, 2)
        by_concurrency = far["by_concurrency"]
        rounds = {
            key: len(figures["get_from_db_vs_driver"]) for key, figures in by_concurrency.items()
        }
        assert rounds == {"1": 2, str(os.cpu_count()): 1}
        assert set(far["workers"]) == {"get_from_db", "post_2013", "driver"}
        assert far["errors"] == {"get_from_db": 0, "post_2013": 0, "driver": 0}
        assert far["get_from_db_vs_post_2013"] is not None
        # One round trip through the proxy holds each way 0.5 ms: the bare
        # driver's read cannot take less than 1 ms there.
        assert far["inprocess_us_per_task"]["driver"] >= 1000, far
        assert far["get_from_db_vs_driver"] is not None
        assert far["measured_one_way_ms"] is not None


def echo_server() -> socket.socket:
    """A listener that sends back whatever each connection sends, as it comes."""
    listener = socket.create_server(("127.0.0.1", 0))

    def echo(connection: socket.socket) -> None:
        with connection:
            while data := connection.recv(65536):
                connection.sendall(data)

    def accept() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=echo, args=(connection,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return listener


def exchange(client: socket.socket, *chunks: bytes, gap: float = 0.0) -> float:
    """Seconds from sending the first chunk until all of them have come back."""
    started = time.perf_counter()
    for n, chunk in enumerate(chunks):
        if n:
            time.sleep(gap)
        client.sendall(chunk)
    expected, received = sum(map(len, chunks)), b""
    while len(received) < expected:
        received += client.recv(65536)
    elapsed = time.perf_counter() - started
    assert received == b"".join(chunks)
    return elapsed


def test_delaying_proxy_holds_each_chunk_its_delay_each_way() -> None:
    """A round trip takes twice the delay; a request in two writes does not pay it twice."""
    with (
        echo_server() as listener,
        RoundTripCounter(*listener.getsockname()[:2], delay=PROXY_DELAY) as proxy,
        socket.create_connection(("127.0.0.1", proxy.port)) as client,
    ):
        assert exchange(client, b"ping") >= 2 * PROXY_DELAY
        # The second write leaves 20 ms after the first and comes back 20 ms
        # after it: the exchange takes 2 x delay + 20 ms. A proxy that slept
        # per read would hold the second chunk behind the first: 3 x delay.
        two_writes = exchange(client, b"SELECT ", b"1", gap=0.02)
        assert 2 * PROXY_DELAY + 0.02 <= two_writes < 2.5 * PROXY_DELAY, two_writes
        assert proxy.round_trips == 2

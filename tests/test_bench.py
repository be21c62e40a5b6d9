"""`make bench` runs end to end: bake, install, the benchmark on both databases, its JSON.

A tiny task count, one round and no suite timing keep it short; nothing here
depends on speed, only on the figures being there and the ones that are not
speed (errors, connections, round trips) holding.
"""

import json
import os
from pathlib import Path

from .conftest import BIN, TEMPLATE, require_servers, run
from .test_generated_suites import MARIADB, POSTGRES, REDIS

WORKLOADS = ["ceiling", "get_from_db", "post_2013", "driver"]
TASKS = 200
LONG_RUN = 400
RELAY_MESSAGES = 300
# get_from_db's round trips: the SELECT in autocommit on PostgreSQL; the SELECT
# and the ROLLBACK ending its snapshot on MariaDB. The 2013 pattern: BEGIN,
# SELECT, ROLLBACK on PostgreSQL (psycopg sends BEGIN); SELECT, ROLLBACK, and the
# pool's own ROLLBACK on return on MariaDB.
ROUND_TRIPS = {
    "postgresql": {"service": 1.0, "post_2013": 3.0, "driver": 1.0},
    "mysql": {"service": 2.0, "post_2013": 3.0, "driver": 1.0},
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
            f" --distance-tasks {TASKS} --relay-messages {RELAY_MESSAGES} --latency-messages 5",
            "BENCH_SUITE": "0",
            "BENCH_RABBITMQ_MESSAGES": str(RELAY_MESSAGES),
        },
        timeout=1200,
    ).stdout

    assert "| pool | workload | rounds x tasks | round trips/task |" in output
    assert "In-process, per task:" in output
    assert "Template bake:" in output
    assert "Targets:" in output
    assert f"Long run ({LONG_RUN} get_from_db tasks" in output

    assert "At a network's distance (0.5 ms each way, one round):" in output
    assert "The outbox relay:" in output
    assert "Outbox relay, PostgreSQL + RabbitMQ (confirms):" in output

    results = json.loads((bench_dir / "results.json").read_text())
    assert results["bake_seconds"] > 0
    rabbitmq = results["rabbitmq_relay"]
    assert (rabbitmq["broker"], rabbitmq["in_broker"]) == ("amqp", RELAY_MESSAGES), rabbitmq
    assert rabbitmq["latency_samples"] == 5
    assert results["suite_seconds"] is None
    for database, server in (("postgresql", "PostgreSQL"), ("mysql", "MySQL/MariaDB")):
        bench = results["bench"][database]
        assert bench["machine"]["cores"] == os.cpu_count()
        assert bench["machine"]["database_server"].startswith(server), bench["machine"]
        assert bench["scaling"] == []
        long_run = bench["long_run"]
        assert (long_run["failed"], long_run["timed_out"]) == (0, 0), long_run
        assert [s["tasks_done"] for s in long_run["samples"]] == list(range(40, 401, 40))
        assert all(s["worker_open_files"] > 0 for s in long_run["samples"])
        assert all(s["server_connections"] >= 1 for s in long_run["samples"])
        assert {path: c["round_trips"] for path, c in bench["inprocess"].items()} == ROUND_TRIPS[
            database
        ]
        assert all(c["us_per_task"] > 0 for c in bench["inprocess"].values())
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
        assert (relay["broker"], relay["in_broker"]) == ("redis", RELAY_MESSAGES), relay
        assert relay["latency_samples"] == 5
        far = bench["at_distance"]
        assert far["delay_ms"] == 0.5
        assert set(far["workers"]) == {"get_from_db", "post_2013", "driver"}
        assert far["errors"] == {"get_from_db": 0, "post_2013": 0, "driver": 0}
        assert far["get_from_db_vs_post_2013"] is not None
        # One round trip through the proxy holds each way 0.5 ms: the bare
        # driver's read cannot take less than 1 ms there.
        assert far["inprocess_us_per_task"]["driver"] >= 1000, far
        # The generated project's own JSON, which the template's wraps.
        assert (bench_dir / database / "my-service" / "var" / "bench" / "results.json").exists()

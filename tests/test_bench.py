"""`make bench` runs end to end: bake, install, the generated benchmark, its JSON.

A tiny task count and no suite timing keep it short; nothing here depends on
speed, only on the figures being there and the correctness ones holding.
"""

import json
import os
from pathlib import Path

from .conftest import BIN, TEMPLATE, require_servers, run
from .test_generated_suites import POSTGRES, REDIS

WORKLOADS = ["ceiling", "get_from_db", "post_2013"]
TASKS = 200


def test_make_bench_reports_every_workload(tmp_path: Path) -> None:
    require_servers(POSTGRES, f"{REDIS}/0")
    bench_dir = tmp_path / "bench"

    output = run(
        "make",
        "--no-print-directory",
        "bench",
        cwd=TEMPLATE,
        env={
            "PATH": f"{BIN}:{os.environ['PATH']}",
            "BENCH_DIR": str(bench_dir),
            "BENCH_ARGS": f"--tasks {TASKS} --no-scaling",
            "BENCH_SUITE": "0",
        },
        timeout=600,
    ).stdout

    assert "| workload | tasks | pool | concurrency | tasks/s |" in output
    for name in WORKLOADS:
        assert f"| {name} | {TASKS} | prefork |" in output
    assert "Template bake:" in output
    assert "Targets:" in output

    results = json.loads((bench_dir / "results.json").read_text())
    assert results["bake_seconds"] > 0
    assert results["suite_seconds"] is None
    bench = results["bench"]
    assert bench["machine"]["cores"] == os.cpu_count()
    assert bench["machine"]["database_server"].startswith("PostgreSQL")
    assert bench["machine"]["broker_server"].startswith("Redis")
    assert bench["scaling"] == []
    workloads = {w["workload"]: w for w in bench["workloads"]}
    assert list(workloads) == WORKLOADS
    for name, figures in workloads.items():
        assert figures["tasks"] == TASKS, name
        assert figures["timed_out"] == 0, name
        assert figures["tasks_per_second"] > 0, name
        assert 0 < figures["p50_ms"] <= figures["p99_ms"], name
        assert figures["peak_connections"] >= 1, name  # the worker's parent waits for the database
        assert figures["worker_rss_mb"] > 0, name
    for name in ("ceiling", "get_from_db"):
        assert workloads[name]["errors"] == 0, workloads[name]
    ours = workloads["get_from_db"]
    assert ours["peak_connections"] <= ours["allowed_connections"]
    assert ours["idle_in_transaction"] == 0
    # The generated project's own JSON, which the template's wraps.
    assert (bench_dir / "my-service" / "var" / "bench" / "results.json").exists()

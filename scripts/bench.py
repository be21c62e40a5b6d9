"""`make bench`: bake the project, install it, benchmark it on each database, time its suite.

The benchmark lives here, in `bench/`, not in the generated project: this
script bakes a fresh project, installs it with the benchmark's own extra
(psutil), points it at this machine's servers and runs `python -m bench.run`
from the project's root with its interpreter. It adds what only the template
can measure: how long baking takes, and how long the generated suite runs.

Environment:
  BENCH_DATABASES  "postgresql mysql" (the default): one bake and one run each,
                   on this machine's PostgreSQL and MariaDB, both with Redis
  BENCH_RABBITMQ   1 (the default): also bake a PostgreSQL project with RabbitMQ
                   and time its outbox relay alone (`python -m bench.relay`),
                   with BENCH_RABBITMQ_ARGS ("--messages 10000")
  BENCH_ARGS    passed to `python -m bench.run` (e.g. "--tasks 1000 --rounds 1")
  BENCH_ARGS_POSTGRESQL, BENCH_ARGS_MYSQL   added to BENCH_ARGS for that
                database's run only (e.g. "--network-delay-ms 0")
  BENCH_SUITE   0 to skip timing the generated `make test`
  BENCH_DIR     where to bake (default .bench/, wiped first)
  TEST_POSTGRES_URL, TEST_MYSQL_URL, TEST_REDIS_URL, TEST_RABBITMQ_URL   the
                servers, as for the template's tests
"""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from cookiecutter.main import cookiecutter

TEMPLATE = Path(__file__).resolve().parents[1]
# What the benchmark needs beyond the baked project and its dev tools.
BENCH_REQUIREMENTS = ["psutil>=5.9"]
BIN = Path(sys.executable).parent
POSTGRES = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MARIADB = os.environ.get("TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test")
REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")
RABBITMQ = os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")
DATABASES = {"postgresql": POSTGRES, "mysql": MARIADB}
LABELS = {"postgresql": "PostgreSQL", "mysql": "MariaDB"}


def servers(database: str) -> dict[str, str]:
    return {
        "DATABASE_URL": DATABASES[database],
        "CELERY_BROKER_URL": f"{REDIS}/0",
        "CELERY_RESULT_BACKEND": f"{REDIS}/1",
    }


def rabbitmq_servers() -> dict[str, str]:
    return {
        "DATABASE_URL": POSTGRES,
        "CELERY_BROKER_URL": RABBITMQ,
        "CELERY_RESULT_BACKEND": "rpc://",
    }


def make(target: str, project: Path, env: dict[str, str], capture: bool = False) -> str:
    """Run the generated project's `make TARGET`; stream its output unless captured."""
    completed = subprocess.run(
        ["make", "--no-print-directory", target],
        cwd=project,
        # The template's venv first on PATH: its uv makes `make install` fast.
        env={**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", **env},
        capture_output=capture,
        text=True,
    )
    if completed.returncode != 0:
        if capture:
            print(completed.stdout, completed.stderr, sep="\n", file=sys.stderr)
        raise SystemExit(f"make {target} failed in {project} (exit {completed.returncode})")
    return completed.stdout if capture else ""


def pytest_summary(output: str) -> str:
    closing = [line for line in output.splitlines() if re.match(r"=+ .* in [\d.]+s", line)]
    return closing[-1].strip("= ") if closing else "no pytest summary found"


def bake_and_install(folder: Path, answers: dict[str, str]) -> tuple[Path, float, float]:
    """A project baked into ``folder`` and installed, with how long each took."""
    print(f"Baking {answers} into {folder}", file=sys.stderr, flush=True)
    started = time.perf_counter()
    project = Path(
        cookiecutter(str(TEMPLATE), no_input=True, output_dir=str(folder), extra_context=answers)
    )
    bake_seconds = time.perf_counter() - started

    print("make install", file=sys.stderr, flush=True)
    started = time.perf_counter()
    make("install", project, {})
    install_seconds = time.perf_counter() - started

    python = project / ".venv" / "bin" / "python"
    subprocess.run(
        [BIN / "uv", "pip", "install", "--quiet", "--python", python, *BENCH_REQUIREMENTS],
        check=True,
    )
    return project, bake_seconds, install_seconds


def run_module(project: Path, module: str, arguments: list[str], env: dict[str, str]) -> None:
    completed = subprocess.run(
        [project / ".venv" / "bin" / "python", "-m", module, *arguments],
        cwd=project,
        env={**os.environ, **env, "PYTHONPATH": str(TEMPLATE)},
    )
    if completed.returncode != 0:
        raise SystemExit(f"python -m {module} failed in {project} (exit {completed.returncode})")


def bench_one(database: str, bench_dir: Path) -> tuple[Path, dict[str, Any], float, float]:
    """Bake and install a project on ``database``, then run the benchmark in it."""
    project, bake_seconds, install_seconds = bake_and_install(
        bench_dir / database, {"database": database}
    )
    arguments = shlex.split(os.environ.get("BENCH_ARGS", ""))
    arguments += shlex.split(os.environ.get(f"BENCH_ARGS_{database.upper()}", ""))
    run_module(project, "bench.run", arguments, servers(database))
    bench = json.loads((project / "var" / "bench" / "results.json").read_text())
    return project, bench, bake_seconds, install_seconds


def bench_rabbitmq_relay(bench_dir: Path, arguments: list[str]) -> dict[str, Any]:
    """The outbox relay of a PostgreSQL project on RabbitMQ, with publisher confirms."""
    project, _, _ = bake_and_install(
        bench_dir / "rabbitmq", {"database": "postgresql", "broker": "rabbitmq"}
    )
    run_module(project, "bench.relay", arguments, rabbitmq_servers())
    figures: dict[str, Any] = json.loads((project / "var" / "bench" / "relay.json").read_text())
    return figures


def relay_line(label: str, figures: dict[str, Any] | None) -> str:
    """One line of the summary: a relay's messages/s and its commit-to-broker latency."""
    if not figures:
        return f"Outbox relay, {label}: not measured"
    return (
        f"Outbox relay, {label}: {figures['messages']} messages in {figures['seconds']}s"
        f" = {figures['messages_per_second']}/s, {figures['in_broker']} in the broker"
        f" ({figures['distinct_task_ids']} distinct task ids); commit to broker"
        f" {figures['latency_ms_median']} ms median, {figures['latency_ms_worst']} ms worst"
    )


def main() -> None:
    bench_dir = Path(os.environ.get("BENCH_DIR") or TEMPLATE / ".bench").resolve()
    time_suite = os.environ.get("BENCH_SUITE", "1") != "0"
    databases = os.environ.get("BENCH_DATABASES", "postgresql mysql").split()
    unknown = set(databases) - set(DATABASES)
    if unknown:
        raise SystemExit(f"BENCH_DATABASES: {sorted(unknown)} unknown; use {sorted(DATABASES)}")
    shutil.rmtree(bench_dir, ignore_errors=True)
    bench_dir.mkdir(parents=True)

    runs = {database: bench_one(database, bench_dir) for database in databases}
    project, _, bake_seconds, install_seconds = runs[databases[0]]
    rabbitmq_relay = None
    if os.environ.get("BENCH_RABBITMQ", "1") != "0":
        arguments = shlex.split(os.environ.get("BENCH_RABBITMQ_ARGS", "--messages 10000"))
        rabbitmq_relay = bench_rabbitmq_relay(bench_dir, arguments)

    suite_seconds: float | None = None
    suite = "not run (BENCH_SUITE=0)"
    if time_suite:
        print("Timing the generated project's make test (CI=true)", file=sys.stderr, flush=True)
        started = time.perf_counter()
        output = make("test", project, {**servers(databases[0]), "CI": "true"}, capture=True)
        suite_seconds = time.perf_counter() - started
        suite = pytest_summary(output)

    # Each relay's figures again, in one place (the Redis ones are also in each run's tables).
    for database, run in runs.items():
        print(relay_line(f"{LABELS[database]} + Redis", run[1].get("relay")))
    if rabbitmq_relay is not None:
        print(relay_line("PostgreSQL + RabbitMQ (confirms)", rabbitmq_relay))
    print(f"Template bake: {bake_seconds:.2f}s; make install: {install_seconds:.1f}s")
    if suite_seconds is None:
        print(f"Generated make test: {suite}")
    else:
        print(f"Generated make test (CI=true, {databases[0]}): {suite_seconds:.0f}s ({suite})")
    results: dict[str, Any] = {
        "bake_seconds": round(bake_seconds, 3),
        "install_seconds": round(install_seconds, 1),
        "suite_seconds": None if suite_seconds is None else round(suite_seconds, 1),
        "suite_summary": suite,
        "bench": {database: run[1] for database, run in runs.items()},
        "rabbitmq_relay": rabbitmq_relay,
    }
    (bench_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"JSON: {bench_dir / 'results.json'}")


if __name__ == "__main__":
    main()

"""Each baked project's own test suite, run by its own `make test`, on real servers.

Each variant is installed into its own fresh virtual environment by its own
`make install` (uv from the template's venv, with uv's cache, keeps it fast),
then runs a real prefork worker against the servers named below.
"""

import os
import re
from pathlib import Path
from typing import Any

import pytest

from .conftest import Bake, require_servers, run

POSTGRES = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MARIADB = os.environ.get("TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test")
REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")
RABBITMQ = os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")


def embedded(folder: Path) -> dict[str, str]:
    """No servers: SQLite files for the data, the broker and the results."""
    return {
        "DATABASE_URL": f"sqlite:///{folder}/app.sqlite3",
        "CELERY_BROKER_URL": f"sqla+sqlite:///{folder}/broker.sqlite3",
        "CELERY_RESULT_BACKEND": f"db+sqlite:///{folder}/results.sqlite3",
    }


SUITES = [
    pytest.param(
        {},
        {
            "DATABASE_URL": POSTGRES,
            "CELERY_BROKER_URL": f"{REDIS}/0",
            "CELERY_RESULT_BACKEND": f"{REDIS}/1",
        },
        id="postgresql-redis",
    ),
    pytest.param(
        {"database": "mysql", "broker": "rabbitmq", "web": "flask"},
        {"DATABASE_URL": MARIADB, "CELERY_BROKER_URL": RABBITMQ, "CELERY_RESULT_BACKEND": "rpc://"},
        id="mysql-rabbitmq",
    ),
    pytest.param({"database": "sqlite", "web": "none"}, None, id="sqlite-embedded"),
    # The defaults in embedded mode run in test_replacing_samples.py, samples replaced.
]


def pytest_summary(output: str) -> dict[str, int]:
    """Counts from pytest's closing line, e.g. {'passed': 31, 'failed': 0}.

    Found by its shape, not its position: make may print lines after it.
    """
    closing = [line for line in output.splitlines() if re.match(r"=+ .* in [\d.]+s", line)][-1]
    return {word: int(count) for count, word in re.findall(r"(\d+) (\w+)", closing)}


# Tests that cannot apply in embedded mode say so with one of these reasons.
EMBEDDED_SKIPS = ("needs a database server", "the embedded SQLite broker cannot ")


def skip_reasons(output: str) -> list[str]:
    """Reasons from pytest's "SKIPPED [n] file:line: reason" summary lines (-ra)."""
    reasons = []
    for count, reason in re.findall(r"^SKIPPED \[(\d+)\] [^:]+:\d+: (.*)$", output, re.MULTILINE):
        reasons += [reason] * int(count)
    return reasons


# Two suites run side by side (make test runs two pytest processes), each
# slower than alone.
@pytest.mark.timeout(2400)
@pytest.mark.parametrize(("answers", "servers"), SUITES)
def test_baked_project_passes_its_own_suite(
    bake: Bake, tmp_path: Path, answers: dict[str, Any], servers: dict[str, str] | None
) -> None:
    env = servers or embedded(tmp_path)
    if servers:
        require_servers(servers["DATABASE_URL"], servers["CELERY_BROKER_URL"])
    project = bake(**answers)
    run("make", "install", cwd=project)

    completed = run("make", "test", cwd=project, env={**env, "CI": "true"}, timeout=2000)

    summary = pytest_summary(completed.stdout)
    print(f"{project.name} {answers}: {summary}")
    assert summary.get("passed", 0) >= 60
    assert summary.get("failed", 0) == 0
    assert summary.get("error", 0) == 0
    skips = skip_reasons(completed.stdout)
    assert len(skips) == summary.get("skipped", 0)
    if servers:
        assert skips == []
    else:
        # Only what cannot apply without servers; never a server left unstarted.
        assert all(reason.startswith(EMBEDDED_SKIPS) for reason in skips), skips

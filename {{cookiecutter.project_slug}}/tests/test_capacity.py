"""The connection budget (``make capacity``): shipped manifests, changed copies, the real server.

The shipped maxima must fit the server's default max_connections through a
rollout{% if cookiecutter.database == 'postgresql' %}, both directly and behind PgBouncer{% endif %}; raising KEDA's maximum past
it must fail, naming what to change (docs/deploy.md, "Connection budget").
"""

import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from {{ cookiecutter.package_name }}.capacity.__main__ import main
from {{ cookiecutter.package_name }}.capacity.fleet import direct_only, direct_total, holdings, pooled_clients
from {{ cookiecutter.package_name }}.capacity.manifests import Manifests
{%- if cookiecutter.database == 'postgresql' %}
from {{ cookiecutter.package_name }}.capacity.pgbouncer import pooler
{%- endif %}
from {{ cookiecutter.package_name }}.capacity.server import RELAY_LISTEN_CONNECTIONS
from {{ cookiecutter.package_name }}.config import settings

from .support.database_state import PeakConnections, connection_count
from .support.environment import PROJECT_ROOT, TMP_DIR
from .support.metrics import scrape_port, serves_metrics
from .support.processes import free_port, running_relay
from .support.waiting import wait_until

KUBERNETES = PROJECT_ROOT / "deploy" / "kubernetes"
{%- if cookiecutter.database == 'postgresql' %}
# PostgreSQL's defaults: max_connections 100, superuser_reserved_connections 3.
DEFAULT_LIMIT = ["--max-connections", "100", "--reserved", "3"]
USABLE = 97
SHOW_MAX_CONNECTIONS = "SHOW max_connections"
{%- else %}
# The server's default max_connections, 151; it reserves none of them.
DEFAULT_LIMIT = ["--max-connections", "151", "--reserved", "0"]
USABLE = 151
SHOW_MAX_CONNECTIONS = "SELECT @@max_connections"
{%- endif %}


def budget(folder: Path, capsys: pytest.CaptureFixture[str], *limit: str) -> tuple[int, str]:
    status = main(["--manifests", str(folder), *(limit or DEFAULT_LIMIT)])
    return status, capsys.readouterr().out


def copy_of_manifests(tmp_path: Path) -> Path:
    return Path(shutil.copytree(KUBERNETES, tmp_path / "kubernetes"))


def set_keda_maximum(folder: Path, maximum: int) -> None:
    scaled = folder / "keda" / "worker-autoscaling.yaml"
    text_, count = re.subn(
        r"maxReplicaCount: \d+", f"maxReplicaCount: {maximum}", scaled.read_text()
    )
    assert count == 1
    scaled.write_text(text_)


def test_the_shipped_fleet_fits_the_default_server(capsys: pytest.CaptureFixture[str]) -> None:
    found = holdings(Manifests.load(KUBERNETES))
    assert direct_total(found) <= USABLE
{%- if cookiecutter.database == 'postgresql' %}
    pgbouncer = pooler(Manifests.load(KUBERNETES))
    assert pgbouncer is not None
    assert pgbouncer.server_connections + direct_only(found) <= USABLE
    assert pooled_clients(found) <= pgbouncer.max_client_conn
{%- else %}
    assert direct_only(found) == 1  # the migrations'; nothing else bypasses the pool
    assert pooled_clients(found) == direct_total(found) - 1
{%- endif %}

    status, out = budget(KUBERNETES, capsys)
    assert status == 0, out
    assert "Within budget." in out


def test_raising_kedas_maximum_past_the_budget_fails_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = copy_of_manifests(tmp_path)
    set_keda_maximum(folder, 50)

    status, out = budget(folder, capsys)

    assert status == 1
    assert "OVER BUDGET" in out
    assert "maxReplicaCount in keda/worker-autoscaling.yaml" in out
{%- if cookiecutter.database == 'postgresql' %}
    # Behind PgBouncer the server is safe; one PgBouncer cannot take every client.
    assert "MAX_CLIENT_CONN in pgbouncer.yaml" in out


def without_pgbouncer(folder: Path) -> None:
    """What docs/deploy.md, "Without PgBouncer", says to do to the kustomization."""
    kustomization = folder / "kustomization.yaml"
    lines = kustomization.read_text().splitlines(keepends=True)
    kept = [line for line in lines if line != "  - pgbouncer.yaml\n"]
    assert len(kept) == len(lines) - 1
    kustomization.write_text("".join(kept))


def test_pgbouncer_lets_fifteen_workers_fit_where_direct_connections_do_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = copy_of_manifests(tmp_path)
    set_keda_maximum(folder, 15)

    status, out = budget(folder, capsys)
    assert status == 0, out
    assert re.search(r"Without PgBouncer the server would see \d+: over budget\.", out)

    without_pgbouncer(folder)
    status, out = budget(folder, capsys)
    assert status == 1
    assert "Lower maxReplicaCount in keda/worker-autoscaling.yaml (worker: 90)" in out


def test_a_pgbouncer_pool_past_the_server_fails_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = copy_of_manifests(tmp_path)
    manifest = folder / "pgbouncer.yaml"
    manifest.write_text(manifest.read_text().replace('value: "10"', 'value: "30"'))

    status, out = budget(folder, capsys)

    assert status == 1
    assert "behind PgBouncer the server may see 125 connections" in out
    assert "Lower MAX_DB_CONNECTIONS or DEFAULT_POOL_SIZE in pgbouncer.yaml" in out
{%- endif %}


def test_a_worker_without_a_concurrency_cannot_be_counted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = copy_of_manifests(tmp_path)
    manifest = folder / "worker.yaml"
    manifest.write_text(manifest.read_text().replace(', "--concurrency", "2"', ""))

    with pytest.raises(SystemExit) as exited:
        budget(folder, capsys)

    assert exited.value.code == 2
    assert "worker.yaml: the worker's command sets no --concurrency" in capsys.readouterr().err


def make_capacity(env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", "capacity"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_make_capacity_reads_the_limit_from_the_server(
    database_url: str, database_server: str
) -> None:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            maximum = int(connection.execute(text(SHOW_MAX_CONNECTIONS)).scalar_one())
    finally:
        engine.dispose()

    run = make_capacity(os.environ)

    assert f"max_connections {maximum} - " in run.stdout, run.stdout + run.stderr
    assert run.returncode == (0 if "Within budget." in run.stdout else 1), run.stdout


def test_a_server_that_does_not_answer_is_named_not_guessed(
    database_url: str,
    database_server: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    nowhere = make_url(database_url).set(host="127.0.0.1", port=free_port())
    url = nowhere.render_as_string(hide_password=False)
    monkeypatch.setattr(settings, "database_url", url)
{%- if cookiecutter.database == 'postgresql' %}
    monkeypatch.setattr(settings, "database_direct_url", url)  # it comes first when set
{%- endif %}

    with pytest.raises(SystemExit) as exited:
        main(["--manifests", str(KUBERNETES)])

    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert "cannot read max_connections from the server" in error
    assert "give --max-connections and --reserved instead" in error


@pytest.mark.usefixtures("broker")
def test_a_relay_holds_no_more_than_the_budget_counts(
    database_url: str, database_server: str, unwatched_queue: str
) -> None:
    (relay,) = [
        holding for holding in holdings(Manifests.load(KUBERNETES)) if holding.kind == "relay"
    ]
    others = connection_count(database_url)
    assert others is not None
    port = free_port()
    env = {"METRICS_PORT": str(port), "CELERY_QUEUE": unwatched_queue}

    with (
        PeakConnections(database_url) as connections,
        running_relay(TMP_DIR / "relay-capacity.log", env),
    ):
        wait_until(lambda: serves_metrics(port), "the relay to serve /metrics")
        # Each scrape reads the outbox's gauges while the loop passes.
        for _ in range(10):
            scrape_port(port)
        wait_until(
            lambda: connections.peak - others >= 1 + RELAY_LISTEN_CONNECTIONS,
            "the relay's loop{% if cookiecutter.database == 'postgresql' %} and its LISTEN{% endif %} connected",
        )

    assert connections.peak - others <= relay.per_pod

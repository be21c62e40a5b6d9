"""docker-compose.yml agrees with the settings its app containers run with.

Compose gives each app container .env, made from .env.example, and the
service's own environment. Change TASK_TIME_LIMIT there, or a grace period
here, and this says when they stop fitting.
"""

import re
from pathlib import Path
from typing import Any

import yaml
from dotenv import dotenv_values

from {{ cookiecutter.package_name }}.celery import app
from {{ cookiecutter.package_name }}.config import Settings

from .support.environment import PROJECT_ROOT
from .support.promtool import promtool

# Compose's durations: 1m30s, 6m, 360s, 1h.
DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(h|m|s)")
SECONDS = {"h": 3600, "m": 60, "s": 1}
# What compose waits after SIGTERM when a service names no stop_grace_period.
COMPOSE_DEFAULT_GRACE = 10.0


def compose_file() -> dict[str, Any]:
    found: dict[str, Any] = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
    return found


def services() -> dict[str, Any]:
    found: dict[str, Any] = compose_file()["services"]
    return found


def container_settings(service: dict[str, Any]) -> Settings:
    """The settings a container runs with: its environment, over .env's."""
    values = {**dotenv_values(PROJECT_ROOT / ".env.example"), **service.get("environment", {})}
    return Settings(**{name.lower(): value for name, value in values.items()})


def grace(service: dict[str, Any]) -> float:
    period = service.get("stop_grace_period")
    if period is None:
        return COMPOSE_DEFAULT_GRACE
    parts = DURATION_PART.findall(period)
    assert "".join(number + unit for number, unit in parts) == period, period
    return sum(float(number) * SECONDS[unit] for number, unit in parts)


def test_a_worker_that_compose_stops_finishes_its_tasks_first() -> None:
    worker = services()["worker"]
    settings = container_settings(worker)
    # As on Kubernetes: a warm shutdown waits for the running tasks, which the
    # hard time limit ends; Celery's soft shutdown, when set, comes on top.
    longest = app.conf.worker_soft_shutdown_timeout + settings.task_time_limit
    assert grace(worker) > longest
    # celery itself receives SIGTERM: no shell in between to swallow it.
    assert worker["command"][0] == "celery"


def test_the_duration_reader_reads_compose_durations() -> None:
    assert [grace({"stop_grace_period": text}) for text in ("1m", "1m30s", "360s")] == [60, 90, 360]
    assert grace({}) == COMPOSE_DEFAULT_GRACE


def test_prometheus_loads_the_alert_rules(tmp_path: Path) -> None:
    # Each file the container sees, by its path there, is one of the project's.
    configs = compose_file()["configs"]
    mounted = {
        mount["target"]: configs[mount["source"]] for mount in services()["prometheus"]["configs"]
    }
    config = yaml.safe_load(mounted.pop("/etc/prometheus/prometheus.yml")["content"])
    (rules,) = config["rule_files"]
    assert mounted == {rules: {"file": "./prometheus/alerts.yml"}}

    # promtool reads the configuration as Prometheus does, and the rules it names.
    alerts = PROJECT_ROOT / "prometheus" / "alerts.yml"
    config["rule_files"] = [str(alerts)]
    written = tmp_path / "prometheus.yml"
    written.write_text(yaml.safe_dump(config))
    checked = promtool("check", "config", written)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    count = sum(len(group["rules"]) for group in yaml.safe_load(alerts.read_text())["groups"])
    assert f"SUCCESS: {count} rules found" in checked.stdout
{%- if cookiecutter.use_beat %}


def test_beat_keeps_its_schedule_on_a_volume() -> None:
    beat = services()["beat"]
    command = beat["command"]
    schedule = command[command.index("--schedule") + 1]
    # A named volume outlives the container: `up --build` re-creates it.
    mounts = [volume.split(":") for volume in beat["volumes"]]
    assert any(schedule.startswith(f"{target}/") for _, target in mounts)
{%- endif %}

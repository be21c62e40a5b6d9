"""deploy/kubernetes/ agrees with the settings its ConfigMap gives the pods.

Change TASK_TIME_LIMIT, HEARTBEAT_EVERY or OUTBOX_RELAY_EVERY there, or a
grace period or a probe here, and this says when they stop fitting.
"""

from pathlib import Path
from typing import Any

import yaml

from {{ cookiecutter.package_name }}.celery import app
from {{ cookiecutter.package_name }}.config import Settings

from .support.environment import PROJECT_ROOT

KUBERNETES = PROJECT_ROOT / "deploy" / "kubernetes"


def documents(name: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all((KUBERNETES / name).read_text()) if doc]


def pods_settings() -> Settings:
    """The settings a pod runs with: the ConfigMap's, over the others."""
    (config,) = documents("config.yaml")
    return Settings(**{name.lower(): value for name, value in config["data"].items()})


def container(name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The Deployment's pod spec and its one container."""
    (deployment,) = [doc for doc in documents(name) if doc["kind"] == "Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    (only,) = pod["containers"]
    return pod, only


def probe_window(probe: dict[str, Any]) -> float:
    command = probe["exec"]["command"]
    assert command[:3] == ["python", "-m", "{{ cookiecutter.package_name }}.liveness"], command
    return float(command[command.index("--within") + 1])


def test_a_worker_that_kubernetes_stops_finishes_its_tasks_first() -> None:
    settings = pods_settings()
    pod, worker = container("worker.yaml")
    # A warm shutdown waits for the running tasks, which the hard time limit
    # ends; Celery's soft shutdown, when set, comes on top.
    longest = app.conf.worker_soft_shutdown_timeout + settings.task_time_limit
    assert pod["terminationGracePeriodSeconds"] > longest
    # celery is the container's process, so it is what receives SIGTERM.
    assert worker["command"][0] == "celery"


def test_the_probes_give_the_heartbeat_time() -> None:
    settings = pods_settings()
    assert settings.heartbeat_file is not None
    _, worker = container("worker.yaml")
    _, relay = container("relay.yaml")
    for writer in (worker, relay):
        # The root filesystem is read-only: the file must be on a volume.
        mounts = [Path(mount["mountPath"]) for mount in writer["volumeMounts"]]
        assert any(Path(settings.heartbeat_file).is_relative_to(path) for path in mounts)
    for probe in (worker["livenessProbe"], worker["startupProbe"]):
        assert probe_window(probe) >= 3 * settings.heartbeat_every
    # The relay beats between batches and after each wait for work.
    window = probe_window(relay["livenessProbe"])
    assert window >= 3 * settings.outbox_relay_every
{%- if cookiecutter.use_beat %}


def test_beat_runs_the_scheduler_that_beats_for_its_probe() -> None:
    settings = pods_settings()
    assert settings.heartbeat_file is not None
    (scheduler,) = [doc for doc in documents("beat.yaml") if doc["kind"] == "StatefulSet"]
    (beat,) = scheduler["spec"]["template"]["spec"]["containers"]
    command = beat["command"]
    assert command[command.index("--scheduler") + 1] == "{{ cookiecutter.package_name }}.scheduler:BeatingScheduler"
    mounts = [Path(mount["mountPath"]) for mount in beat["volumeMounts"]]
    assert any(Path(settings.heartbeat_file).is_relative_to(path) for path in mounts)
    # The scheduler ticks at least every HEARTBEAT_EVERY (scheduler.py).
    assert probe_window(beat["livenessProbe"]) >= 3 * settings.heartbeat_every


def test_beat_keeps_its_schedule_on_a_volume_that_outlives_the_pod() -> None:
    (stateful_set,) = [doc for doc in documents("beat.yaml") if doc["kind"] == "StatefulSet"]
    spec = stateful_set["spec"]
    (beat,) = spec["template"]["spec"]["containers"]
    command = beat["command"]
    schedule = Path(command[command.index("--schedule") + 1])
    # On an emptyDir the schedule would go with the pod (tests/test_beat_schedule.py).
    claims = {claim["metadata"]["name"] for claim in spec["volumeClaimTemplates"]}
    kept = [Path(mount["mountPath"]) for mount in beat["volumeMounts"] if mount["name"] in claims]
    assert any(schedule.is_relative_to(path) for path in kept)
    # The image's user writes to it.
    assert spec["template"]["spec"]["securityContext"]["fsGroup"] == 10001
    # A StatefulSet is governed by a headless Service, which schemas up to 1.32 require.
    (service,) = [doc for doc in documents("beat.yaml") if doc["kind"] == "Service"]
    assert spec["serviceName"] == service["metadata"]["name"]
    assert service["spec"]["clusterIP"] == "None"
{%- endif %}
{%- if cookiecutter.web != 'none' %}


# The server's graceful shutdown, in uvicorn's and in gunicorn's words.
GRACEFUL_FLAGS = ("--timeout-graceful-shutdown", "--graceful-timeout")


def test_a_web_pod_drains_before_kubernetes_kills_it() -> None:
    pod, web = container("web.yaml")
    command = web["command"]
    (flag,) = [flag for flag in GRACEFUL_FLAGS if flag in command]
    graceful = float(command[command.index(flag) + 1])
    # The Service stops sending during preStop; then SIGTERM, and the requests
    # in flight have `graceful` seconds to finish, all before the SIGKILL.
    pre_stop = web["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pre_stop > 0
    assert pre_stop + graceful < pod["terminationGracePeriodSeconds"]
    # make web, which tests/web/test_draining.py stops, drains the same way.
    assert f"{flag} {graceful:g}" in (PROJECT_ROOT / "Makefile").read_text()
{%- endif %}


def test_the_prometheus_rule_holds_the_rules_compose_loads() -> None:
    # One set of rules: edit prometheus/alerts.yml and the PrometheusRule together.
    (rule,) = documents("monitoring/prometheus-rule.yaml")
    assert rule["spec"] == yaml.safe_load((PROJECT_ROOT / "prometheus" / "alerts.yml").read_text())


def test_the_pod_monitor_scrapes_each_process_under_the_job_the_rules_read() -> None:
    (monitor,) = documents("monitoring/pod-monitor.yaml")
    spec = monitor["spec"]
    endpoints = {endpoint["port"] for endpoint in spec["podMetricsEndpoints"]}
    (config,) = documents("config.yaml")
    jobs = {}
    for path in sorted(KUBERNETES.glob("*.yaml")):
        for deployment in [doc for doc in documents(path.name) if doc["kind"] == "Deployment"]:
            template = deployment["spec"]["template"]
            labels = template["metadata"]["labels"]
            assert spec["selector"]["matchLabels"].items() <= labels.items(), path.name
            (only,) = template["spec"]["containers"]
            ports = {port["name"]: port["containerPort"] for port in only["ports"]}
            scraped = endpoints & set(ports)
            if not scraped:
                continue  # a server of its own (a pooler), which serves no /metrics
            jobs[labels[spec["jobLabel"]]] = ports[scraped.pop()]
    # The names TargetDown reads, each on the port its process serves /metrics on.
    metrics_port = int(config["data"]["METRICS_PORT"])
    assert jobs == {
        "worker": metrics_port,
        "relay": metrics_port,
{%- if cookiecutter.web != 'none' %}
        "web": 8000,
{%- endif %}
    }

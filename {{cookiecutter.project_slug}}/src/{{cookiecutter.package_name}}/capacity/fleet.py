"""What each kind of pod holds at most, and the fleet's total at the manifests' maxima.

The counts, and why each is what it is: docs/deploy.md, "Connection budget".
"""

from dataclasses import dataclass

from .manifests import (
    ManifestError,
    Manifests,
    Scale,
    Workload,
    environment,
    option,
    rollout_pods,
    scale,
    setting,
    workloads,
)
from .server import RELAY_LISTEN_CONNECTIONS

# Threads that serve requests in one web process when its command sets no
# --threads: the web server's own default.
REQUEST_THREADS = {{ 40 if cookiecutter.web == 'fastapi' else 1 }}
# The relay's pool serves its loop and, with METRICS_PORT, the /metrics scrape
# that reads the outbox's gauges: one at a time, from one Prometheus.
RELAY_THREADS = 2
# The service's image, as the manifests name it: a workload running another
# image (a pooler) is no client of the app's settings, and counts apart.
APP_IMAGE = "{{ cookiecutter.project_slug }}"


@dataclass(frozen=True)
class Holding:
    """The connections one kind of pod holds at most, and how many such pods run."""

    kind: str
    per_pod: int
    # How per_pod adds up, for the table.
    how: str
    # Of per_pod, those that bypass a pooler (DATABASE_DIRECT_URL).
    direct_per_pod: int
    scale: Scale
    rollout_pods: int

    @property
    def connections(self) -> int:
        return self.per_pod * self.rollout_pods

    @property
    def direct(self) -> int:
        return self.direct_per_pod * self.rollout_pods


def holdings(manifests: Manifests) -> list[Holding]:
    found = []
    for workload in workloads(manifests):
        if any(container["image"] != APP_IMAGE for container in workload.containers):
            continue
        per_pod, how, direct = count(workload, manifests)
        # An init container runs before the pod's processes, not beside them.
        waits = len(workload.init_containers)
        if waits > per_pod:
            per_pod, how, direct = waits, "init container", 0
        pods = scale(workload, manifests)
        kind = workload.component or workload.name
        found.append(Holding(kind, per_pod, how, direct, pods, rollout_pods(workload, pods.pods)))
    return found


def count(workload: Workload, manifests: Manifests) -> tuple[int, str, int]:
    """(connections, how they add up, how many of them are direct) for one pod's processes."""
    (container,) = workload.containers
    env = environment(container, manifests)
    pool = setting(env, "db_pool_size") + setting(env, "db_max_overflow")
    command = [str(part) for part in container.get("command", [])]
    component = workload.component
    if component == "worker":
        return worker(command, pool, workload.file)
    if component == "web":
        processes = int(option(command, "--workers", "-w") or 1)
        threads = int(option(command, "--threads") or REQUEST_THREADS)
        requests = min(threads, pool)
        # /health checks through a pool of one of its own (web/server_checks.py).
        how = f"{processes} process(es) x ({requests} pooled + 1 for /health)"
        return processes * (requests + 1), how, 0
    if component == "relay":
        threads = RELAY_THREADS if "METRICS_PORT" in env else 1
        pooled = min(threads, pool)
        how = f"{pooled} pooled (loop, /metrics)"
        if RELAY_LISTEN_CONNECTIONS:
            how += f" + {RELAY_LISTEN_CONNECTIONS} LISTEN"
        return pooled + RELAY_LISTEN_CONNECTIONS, how, RELAY_LISTEN_CONNECTIONS
    if component == "beat":
        return 0, "none", 0
    if component == "migrate":
        return 1, "migrations", 1
    raise ManifestError(
        f"{workload.file}: the budget does not know what {workload.name}"
        f" (component {component!r}) holds; add it to capacity/fleet.py"
    )


def worker(command: list[str], pool: int, file: str) -> tuple[int, str, int]:
    concurrency = option(command, "--concurrency", "-c")
    if concurrency is None:
        raise ManifestError(
            f"{file}: the worker's command sets no --concurrency, so Celery starts one pool"
            " process per CPU of whatever node it lands on; set --concurrency"
        )
    processes = int(concurrency)
    kind = option(command, "--pool", "-P") or "prefork"
    if kind == "prefork":
        # The main process keeps its start-up check's connection; a pool
        # process runs one task at a time, on one connection.
        return 1 + processes, f"1 main + {processes} pool process(es)", 0
    if kind in {"threads", "solo"}:
        threads = processes if kind == "threads" else 1
        held = min(1 + threads, pool)
        return held, f"{threads} thread(s) + start-up check, within the pool", 0
    raise ManifestError(f"{file}: the budget counts prefork, threads and solo pools, not {kind}")


def direct_total(found: list[Holding]) -> int:
    """What the server sees when every process connects to it."""
    return sum(holding.connections for holding in found)


def pooled_clients(found: list[Holding]) -> int:
    """What a pooler sees: every connection but the direct ones."""
    return sum(holding.connections - holding.direct for holding in found)


def direct_only(found: list[Holding]) -> int:
    return sum(holding.direct for holding in found)

"""The fleet behind PgBouncer: what the server sees, and what each PgBouncer must accept.

PgBouncer's settings are its container's variables in pgbouncer.yaml, as its
image reads them. One database and one user go through it, the service's own,
so one pool: DEFAULT_POOL_SIZE + RESERVE_POOL_SIZE, capped by MAX_DB_CONNECTIONS.
"""

from dataclasses import dataclass

from .fleet import Holding, direct_only, pooled_clients
from .manifests import Manifests, Scale, environment, rollout_pods, scale, workloads

# PgBouncer's own defaults, for a variable the manifest leaves out (0: no cap).
DEFAULTS = {
    "DEFAULT_POOL_SIZE": 20,
    "RESERVE_POOL_SIZE": 0,
    "MAX_DB_CONNECTIONS": 0,
    "MAX_CLIENT_CONN": 100,
}


@dataclass(frozen=True)
class Pooler:
    per_pod: int
    how: str
    scale: Scale
    rollout_pods: int
    max_client_conn: int
    file: str

    @property
    def server_connections(self) -> int:
        return self.per_pod * self.rollout_pods


def pooler(manifests: Manifests) -> Pooler | None:
    """PgBouncer's Deployment as the budget counts it; None when the manifests have none."""
    for workload in workloads(manifests):
        if workload.component != "pgbouncer":
            continue
        (container,) = workload.containers
        env = environment(container, manifests)
        value = {name: int(env.get(name, default)) for name, default in DEFAULTS.items()}
        pool = value["DEFAULT_POOL_SIZE"] + value["RESERVE_POOL_SIZE"]
        cap = value["MAX_DB_CONNECTIONS"]
        per_pod = min(pool, cap) if cap else pool
        how = f"min(DEFAULT_POOL_SIZE + RESERVE_POOL_SIZE = {pool}, MAX_DB_CONNECTIONS = {cap})"
        pods = scale(workload, manifests)
        return Pooler(
            per_pod,
            how if cap else f"DEFAULT_POOL_SIZE + RESERVE_POOL_SIZE = {pool}",
            pods,
            rollout_pods(workload, pods.pods),
            value["MAX_CLIENT_CONN"],
            workload.file,
        )
    return None


def behind_pgbouncer(found: list[Holding], pgbouncer: Pooler, usable: int) -> list[str]:
    """Print what the server and each PgBouncer see; return what does not fit, and the fix."""
    direct = direct_only(found)
    server = pgbouncer.server_connections + direct
    clients = pooled_clients(found)
    print(
        f"Behind PgBouncer the server sees {server}: {pgbouncer.rollout_pods} PgBouncer pods"
        f" in a rollout x {pgbouncer.per_pod} ({pgbouncer.how}),"
        f" + {direct} direct (migrations, LISTEN)."
    )
    print(
        f"Each PgBouncer must take all {clients} clients when the other is away;"
        f" MAX_CLIENT_CONN is {pgbouncer.max_client_conn}."
    )
    problems = []
    if server > usable:
        problems.append(
            f"behind PgBouncer the server may see {server} connections, {server - usable} more"
            f" than it accepts. Lower MAX_DB_CONNECTIONS or DEFAULT_POOL_SIZE in"
            f" {pgbouncer.file}, or {pgbouncer.scale.set_by}; or raise the server's"
            " max_connections."
        )
    if clients > pgbouncer.max_client_conn:
        largest = max(found, key=lambda holding: holding.connections - holding.direct)
        problems.append(
            f"{clients} clients may connect to one PgBouncer, more than its MAX_CLIENT_CONN"
            f" ({pgbouncer.max_client_conn}). Raise MAX_CLIENT_CONN in {pgbouncer.file} to"
            f" {clients} at least, or lower {largest.scale.set_by}"
            f" ({largest.kind}: {largest.connections - largest.direct} clients)."
        )
    return problems

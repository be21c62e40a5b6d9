"""deploy/kubernetes/, checked without a cluster.

The core kinds are validated by kubernetes-validate --strict (it bundles the
Kubernetes schemas), against the newest Kubernetes and the oldest still in
wide use; KEDA's and the Prometheus Operator's kinds, which it passes with a
warning and exit 0, against schemas in tests/schemas/, with examples that
must fail. kubectl's own kustomize builds the kustomization, with and without
its KEDA component, and with its monitoring component. The
rest are the rules a reviewer would check by hand: probes, shutdowns,
security, credentials, and a kustomization that names every file.
"""

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from .conftest import BIN, Bake

SCHEMAS = Path(__file__).parent / "schemas"
KEDA_KINDS = {"ScaledObject", "TriggerAuthentication"}
# The Prometheus Operator's, in the monitoring component.
OPERATOR_KINDS = {"PodMonitor", "PrometheusRule"}
SCHEMA_FILES = {
    "ScaledObject": "keda-scaledobject.json",
    "TriggerAuthentication": "keda-triggerauthentication.json",
    "PodMonitor": "prometheus-operator-podmonitor.json",
    "PrometheusRule": "prometheus-operator-prometheusrule.json",
}
# None: kubernetes-validate's newest bundled schema. 1.30: the oldest release
# the manifests promise to fit (a StatefulSet needed serviceName up to 1.32).
KUBERNETES_VERSIONS = [None, "1.30.0"]
VARIANTS = [
    {"database": database, "broker": broker, "web": web, "use_beat": beat}
    for database, web, beat in (("postgresql", "fastapi", True), ("mysql", "flask", False))
    for broker in ("redis", "rabbitmq")
]
CREDENTIALS = ("DATABASE_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND")
# A URL with a password in it: scheme://user:password@host.
URL_WITH_PASSWORD = re.compile(r"\w+://[^/\s:@]*:[^/\s@]+@")


def variant_id(answers: dict[str, Any]) -> str:
    return f"{answers['database']}-{answers['broker']}-{answers['web']}"


def manifests(project: Path) -> dict[str, list[dict[str, Any]]]:
    """Each file of deploy/kubernetes/ and its components but the kustomizations.

    By path within deploy/kubernetes/ (``keda/worker-autoscaling.yaml``), as its documents.
    """
    folder = project / "deploy" / "kubernetes"
    return {
        str(path.relative_to(folder)): [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
        for path in sorted(folder.rglob("*.yaml"))
        if path.name != "kustomization.yaml"
    }


def objects(project: Path) -> list[dict[str, Any]]:
    return [doc for docs in manifests(project).values() for doc in docs]


def of_kind(project: Path, kind: str) -> list[dict[str, Any]]:
    return [doc for doc in objects(project) if doc["kind"] == kind]


def pod_specs(project: Path) -> dict[str, dict[str, Any]]:
    """Every workload's pod spec, by the workload's name."""
    return {
        doc["metadata"]["name"]: doc["spec"]["template"]["spec"]
        for doc in objects(project)
        if doc["kind"] in {"Deployment", "StatefulSet", "Job"}
    }


# PgBouncer's pods run its own image, as its own user, with its settings in
# their env: the app's rules for pods leave it out (test_pgbouncer_* check it).
PGBOUNCER = "my-service-pgbouncer"


def app_pod_specs(project: Path) -> dict[str, dict[str, Any]]:
    return {name: pod for name, pod in pod_specs(project).items() if name != PGBOUNCER}


def containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return [*pod.get("initContainers", []), *pod["containers"]]


def workload(project: Path, component: str) -> dict[str, Any]:
    (found,) = [
        doc
        for doc in objects(project)
        if doc["metadata"].get("labels", {}).get("app.kubernetes.io/component") == component
        and doc["kind"] in {"Deployment", "StatefulSet", "Job"}
    ]
    return found


def kubernetes_validate(
    *paths: Path, version: str | None = None
) -> subprocess.CompletedProcess[str]:
    chosen = ["--kubernetes-version", version] if version else []
    return subprocess.run(
        [BIN / "kubernetes-validate", "--strict", "--quiet", *chosen, *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS, ids=lambda v: v or "newest")
@pytest.mark.parametrize("answers", VARIANTS, ids=variant_id)
def test_core_kinds_pass_kubernetes_validate_strict(
    bake: Bake, answers: dict[str, Any], version: str | None
) -> None:
    project = bake(**answers)
    folder = project / "deploy" / "kubernetes"
    core = [
        folder / name
        for name, docs in manifests(project).items()
        if not {doc["kind"] for doc in docs} & (KEDA_KINDS | OPERATOR_KINDS)
    ]
    expected = {"config.yaml", "migrate-job.yaml", "worker.yaml", "relay.yaml"}
    expected |= {"pgbouncer.yaml"} if answers["database"] == "postgresql" else set()
    expected |= {"web.yaml", "web-autoscaling.yaml"} if answers["web"] != "none" else set()
    expected |= {"beat.yaml"} if answers["use_beat"] else set()
    assert {path.name for path in core} == expected

    validated = kubernetes_validate(*core, version=version)
    assert validated.returncode == 0, validated.stdout + validated.stderr


def test_kubernetes_1_30_refuses_a_stateful_set_without_service_name(
    bake: Bake, tmp_path: Path
) -> None:
    beat = (bake() / "deploy" / "kubernetes" / "beat.yaml").read_text()
    unnamed = tmp_path / "beat.yaml"
    unnamed.write_text(re.sub(r"\n  serviceName: .*", "", beat))

    assert kubernetes_validate(unnamed).returncode == 0  # optional since 1.33
    validated = kubernetes_validate(unnamed, version="1.30.0")
    assert validated.returncode != 0
    assert "serviceName" in validated.stdout + validated.stderr


def test_kubernetes_validate_refuses_a_misspelt_field(bake: Bake, tmp_path: Path) -> None:
    worker = (bake() / "deploy" / "kubernetes" / "worker.yaml").read_text()
    misspelt = tmp_path / "worker.yaml"
    misspelt.write_text(worker.replace("terminationGracePeriodSeconds", "terminationGracePeriod"))

    validated = kubernetes_validate(misspelt)
    assert validated.returncode != 0
    assert "terminationGracePeriod" in validated.stdout + validated.stderr


def crd_validator(kind: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMAS / SCHEMA_FILES[kind]).read_text())
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("answers", VARIANTS, ids=variant_id)
def test_the_workers_scale_on_the_queue_with_keda(bake: Bake, answers: dict[str, Any]) -> None:
    project = bake(**answers)
    for kind in KEDA_KINDS:
        for doc in of_kind(project, kind):
            crd_validator(kind).validate(doc)

    (scaled,) = of_kind(project, "ScaledObject")
    spec = scaled["spec"]
    assert spec["scaleTargetRef"]["name"] == workload(project, "worker")["metadata"]["name"]
    assert 1 <= spec["minReplicaCount"] < spec["maxReplicaCount"]
    (trigger,) = spec["triggers"]
    if answers["broker"] == "redis":
        assert (trigger["type"], trigger["metadata"]["listName"]) == ("redis", "my_service")
    else:
        # Over the management API, unacknowledged messages count too.
        assert trigger["type"] == "rabbitmq"
        assert trigger["metadata"]["protocol"] == "http"
        assert trigger["metadata"]["queueName"] == "my_service"
    (authentication,) = of_kind(project, "TriggerAuthentication")
    assert trigger["authenticationRef"]["name"] == authentication["metadata"]["name"]
    for reference in authentication["spec"]["secretTargetRef"]:
        assert reference["name"] == "my-service-secrets"
    scale_down = spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleDown"]
    assert scale_down["policies"] == [{"type": "Pods", "value": 1, "periodSeconds": 60}]


@pytest.mark.parametrize("answers", VARIANTS, ids=variant_id)
def test_no_autoscaled_workload_sets_replicas(bake: Bake, answers: dict[str, Any]) -> None:
    # The autoscaler owns the count: a count in the manifest would be put
    # back by every `kubectl apply`, undoing its scaling.
    project = bake(**answers)
    targets = [doc["spec"]["scaleTargetRef"]["name"] for doc in of_kind(project, "ScaledObject")]
    autoscalers = of_kind(project, "HorizontalPodAutoscaler")
    targets += [doc["spec"]["scaleTargetRef"]["name"] for doc in autoscalers]
    expected = {"worker"} | ({"web"} if answers["web"] != "none" else set())
    assert {name.removeprefix("my-service-") for name in targets} == expected
    for doc in objects(project):
        if doc["kind"] in {"Deployment", "StatefulSet"} and doc["metadata"]["name"] in targets:
            assert "replicas" not in doc["spec"], doc["metadata"]["name"]
    for autoscaler in autoscalers:
        assert autoscaler["apiVersion"] == "autoscaling/v2"
        assert autoscaler["spec"]["minReplicas"] >= 2


BROKEN_SCALED_OBJECTS = {
    # The CRD declares trigger metadata a map of strings.
    "a number for a string": lambda spec: spec["triggers"][0]["metadata"].update(listLength=20),
    "a misspelt field": lambda spec: spec.update(minReplicas=spec.pop("minReplicaCount")),
    "no triggers": lambda spec: spec.pop("triggers"),
    "a negative maximum": lambda spec: spec.update(maxReplicaCount=-1),
}


@pytest.mark.parametrize("breakage", BROKEN_SCALED_OBJECTS, ids=list(BROKEN_SCALED_OBJECTS))
def test_the_keda_schema_refuses_a_broken_scaled_object(bake: Bake, breakage: str) -> None:
    (scaled,) = of_kind(bake(), "ScaledObject")
    BROKEN_SCALED_OBJECTS[breakage](scaled["spec"])

    with pytest.raises(jsonschema.ValidationError):
        crd_validator("ScaledObject").validate(scaled)


def test_a_trigger_authentication_takes_keys_not_values(bake: Bake) -> None:
    (authentication,) = of_kind(bake(), "TriggerAuthentication")
    authentication["spec"]["secretTargetRef"][0]["value"] = "hunter2"

    with pytest.raises(jsonschema.ValidationError):
        crd_validator("TriggerAuthentication").validate(authentication)


@pytest.mark.parametrize("answers", VARIANTS, ids=variant_id)
def test_every_container_runs_restricted_with_resources(
    bake: Bake, answers: dict[str, Any]
) -> None:
    project = bake(**answers)
    for name, pod in pod_specs(project).items():
        security = pod["securityContext"]
        assert security["runAsNonRoot"] is True, name
        # The Dockerfile's user; PgBouncer's image's own (postgres, 70).
        assert security["runAsUser"] == (70 if name == PGBOUNCER else 10001), name
        assert security["seccompProfile"] == {"type": "RuntimeDefault"}, name
        for container in containers(pod):
            where = f"{name}/{container['name']}"
            restricted = container["securityContext"]
            assert restricted["allowPrivilegeEscalation"] is False, where
            assert restricted["capabilities"]["drop"] == ["ALL"], where
            assert restricted["readOnlyRootFilesystem"] is True, where
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), where
            assert {"cpu", "memory"} <= set(container["resources"]["limits"]), where


@pytest.mark.parametrize("answers", VARIANTS, ids=variant_id)
def test_settings_come_from_the_config_map_and_credentials_from_the_secret(
    bake: Bake, answers: dict[str, Any]
) -> None:
    project = bake(**answers)
    for path in (project / "deploy" / "kubernetes").rglob("*.yaml"):
        assert not URL_WITH_PASSWORD.search(path.read_text()), f"{path.name} holds a credential"
    assert of_kind(project, "Secret") == [], "the Secret is created by hand (docs/deploy.md)"
    (config,) = of_kind(project, "ConfigMap")
    assert not set(CREDENTIALS) & set(config["data"])
    for name, pod in app_pod_specs(project).items():
        for container in containers(pod):
            assert "env" not in container, f"{name}: settings belong in the ConfigMap"
            assert container["envFrom"] == [
                {"configMapRef": {"name": config["metadata"]["name"]}},
                {"secretRef": {"name": "my-service-secrets"}},
            ], name
    docs = (project / "docs" / "deploy.md").read_text()
    assert "kubectl create secret generic my-service-secrets" in docs
    for key in CREDENTIALS:
        assert key in docs


def within(probe: dict[str, Any]) -> float:
    command = probe["exec"]["command"]
    assert command[:3] == ["python", "-m", "my_service.liveness"]
    return float(command[command.index("--within") + 1])


@pytest.mark.parametrize("answers", VARIANTS, ids=variant_id)
def test_probes_and_commands_are_those_the_baked_tests_run(
    bake: Bake, answers: dict[str, Any]
) -> None:
    # The baked project's tests run these probes against a real worker and
    # relay, and check the grace periods against the ConfigMap's settings
    # (tests/test_kubernetes_manifests.py).
    project = bake(**answers)
    worker = workload(project, "worker")["spec"]["template"]["spec"]["containers"][0]
    assert worker["command"][:4] == ["celery", "--app", "my_service.celery", "worker"]
    assert within(worker["livenessProbe"]) == within(worker["startupProbe"])
    relay = workload(project, "relay")["spec"]["template"]["spec"]["containers"][0]
    assert within(relay["livenessProbe"]) > 0
    assert (project / "tests" / "test_kubernetes_manifests.py").exists()
    if answers["web"] != "none":
        web = workload(project, "web")["spec"]["template"]["spec"]["containers"][0]
        assert web["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    if answers["use_beat"]:
        beat = workload(project, "beat")
        assert (beat["kind"], beat["spec"]["replicas"]) == ("StatefulSet", 1)
        # Its headless Service; the schedule's volume: tests/test_kubernetes_manifests.py.
        (service,) = [
            doc
            for doc in of_kind(project, "Service")
            if doc["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "beat"
        ]
        assert service["metadata"]["name"] == beat["spec"]["serviceName"]
        assert service["spec"]["clusterIP"] == "None"


@pytest.mark.parametrize("answers", VARIANTS, ids=variant_id)
def test_a_new_version_waits_for_its_migrations(bake: Bake, answers: dict[str, Any]) -> None:
    project = bake(**answers)
    migrate = workload(project, "migrate")
    assert migrate["kind"] == "Job"
    assert migrate["spec"]["template"]["spec"]["containers"][0]["command"] == [
        "python",
        "-m",
        "my_service.prestart",
    ]
    for name, pod in app_pod_specs(project).items():
        if name == migrate["metadata"]["name"]:
            continue
        (wait,) = pod["initContainers"]
        assert wait["command"][:4] == [
            "python",
            "-m",
            "my_service.prestart",
            "--wait-for-migrations",
        ]


@pytest.mark.parametrize("answers", VARIANTS, ids=variant_id)
def test_the_kustomization_names_every_manifest_and_the_image(
    bake: Bake, answers: dict[str, Any]
) -> None:
    project = bake(**answers)
    folder = project / "deploy" / "kubernetes"
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
    named = list(kustomization["resources"])
    # KEDA's kinds, in a component of their own: one line switches them off.
    # The Prometheus Operator's, in another that one line switches on.
    assert kustomization["components"] == ["keda"]
    for name in ("keda", "monitoring"):
        component = yaml.safe_load((folder / name / "kustomization.yaml").read_text())
        assert component["kind"] == "Component"
        named += [f"{name}/{resource}" for resource in component["resources"]]
    assert sorted(named) == sorted(manifests(project))
    keda_files = {
        name for name, docs in manifests(project).items() if docs[0]["kind"] in KEDA_KINDS
    }
    assert keda_files == {"keda/worker-autoscaling.yaml"}
    (image,) = kustomization["images"]
    for pod in app_pod_specs(project).values():
        for container in containers(pod):
            assert container["image"] == image["name"]


def kustomize_build(folder: Path) -> list[dict[str, Any]]:
    """What `kubectl apply -k folder` would send, built by kubectl's own kustomize."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed")
    built = subprocess.run(
        [kubectl, "kustomize", str(folder)], capture_output=True, text=True, check=False
    )
    assert built.returncode == 0, built.stderr
    return [doc for doc in yaml.safe_load_all(built.stdout) if doc]


@pytest.mark.parametrize("answers", VARIANTS[::3], ids=variant_id)
def test_one_line_takes_keda_out_of_the_apply(
    bake: Bake, answers: dict[str, Any], tmp_path: Path
) -> None:
    folder = bake(**answers) / "deploy" / "kubernetes"
    built = kustomize_build(folder)
    assert {doc["kind"] for doc in built} >= KEDA_KINDS
    for doc in built:
        assert doc["metadata"]["labels"]["app.kubernetes.io/part-of"] == "my-service"

    kustomization = folder / "kustomization.yaml"
    lines = kustomization.read_text().splitlines(keepends=True)
    kustomization.write_text("".join(line for line in lines if line != "  - keda\n"))
    without_keda = kustomize_build(folder)

    assert not KEDA_KINDS & {doc["kind"] for doc in without_keda}
    assert len(without_keda) == len(built) - 2
    # No replicas field: a new Deployment starts one worker, and an apply
    # leaves whatever number `kubectl scale` set since.
    (worker,) = [
        doc
        for doc in without_keda
        if (doc["kind"], doc["metadata"]["name"]) == ("Deployment", "my-service-worker")
    ]
    assert "replicas" not in worker["spec"]
    # What is left is all Kubernetes' own, valid on every version we fit.
    rendered = tmp_path / "without-keda.yaml"
    rendered.write_text(yaml.safe_dump_all(without_keda))
    for version in KUBERNETES_VERSIONS:
        validated = kubernetes_validate(rendered, version=version)
        assert validated.returncode == 0, validated.stdout + validated.stderr


@pytest.mark.parametrize("answers", VARIANTS, ids=variant_id)
def test_the_monitoring_component_passes_the_operators_schemas(
    bake: Bake, answers: dict[str, Any]
) -> None:
    project = bake(**answers)
    for kind in OPERATOR_KINDS:
        (doc,) = of_kind(project, kind)
        crd_validator(kind).validate(doc)
    # The rules compose's Prometheus loads; the bake's own tests keep them equal.
    (rule,) = of_kind(project, "PrometheusRule")
    alerts = yaml.safe_load((project / "prometheus" / "alerts.yml").read_text())
    assert rule["spec"] == alerts


BROKEN_OPERATOR_OBJECTS = {
    "a misspelt rule field": (
        "PrometheusRule",
        lambda spec: spec["groups"][0]["rules"][0].update(exp="up == 0"),
    ),
    "a duration in words": (
        "PrometheusRule",
        lambda spec: spec["groups"][0]["rules"][0].update({"for": "ten minutes"}),
    ),
    "a rule neither alert nor record": (
        "PrometheusRule",
        lambda spec: spec["groups"][0]["rules"][0].pop("alert"),
    ),
    "a group without a name": ("PrometheusRule", lambda spec: spec["groups"][0].pop("name")),
    "a pod monitor without a selector": ("PodMonitor", lambda spec: spec.pop("selector")),
    "an endpoint port as a number": (
        "PodMonitor",
        lambda spec: spec["podMetricsEndpoints"][0].update(port=9100),
    ),
}


@pytest.mark.parametrize("breakage", BROKEN_OPERATOR_OBJECTS, ids=list(BROKEN_OPERATOR_OBJECTS))
def test_the_operator_schemas_refuse_a_broken_object(bake: Bake, breakage: str) -> None:
    kind, breaking = BROKEN_OPERATOR_OBJECTS[breakage]
    (doc,) = of_kind(bake(), kind)
    crd_validator(kind).validate(doc)
    breaking(doc["spec"])

    with pytest.raises(jsonschema.ValidationError):
        crd_validator(kind).validate(doc)


@pytest.mark.parametrize("answers", VARIANTS[::3], ids=variant_id)
def test_one_line_adds_the_monitoring_component(bake: Bake, answers: dict[str, Any]) -> None:
    folder = bake(**answers) / "deploy" / "kubernetes"
    assert not OPERATOR_KINDS & {doc["kind"] for doc in kustomize_build(folder)}

    kustomization = folder / "kustomization.yaml"
    text = kustomization.read_text()
    kustomization.write_text(text.replace("  - keda\n", "  - keda\n  - monitoring\n"))
    built = kustomize_build(folder)

    for kind in OPERATOR_KINDS:
        (doc,) = [doc for doc in built if doc["kind"] == kind]
        assert doc["metadata"]["labels"]["app.kubernetes.io/part-of"] == "my-service"
        crd_validator(kind).validate(doc)


def test_sqlite_bakes_have_no_kubernetes_manifests(bake: Bake) -> None:
    project = bake(database="sqlite")
    assert not (project / "deploy").exists()
    assert "SQLite" in (project / "docs" / "deploy.md").read_text()


def test_without_docker_there_is_nothing_to_deploy(bake: Bake) -> None:
    project = bake(use_docker=False)
    assert not (project / "deploy").exists()
    assert not (project / "docs" / "deploy.md").exists()


@pytest.mark.parametrize("answers", VARIANTS, ids=variant_id)
def test_pgbouncer_pools_in_transaction_mode_in_postgresql_bakes_only(
    bake: Bake, answers: dict[str, Any]
) -> None:
    project = bake(**answers)
    if answers["database"] != "postgresql":
        assert PGBOUNCER not in pod_specs(project)
        assert "pgbouncer" not in (project / "docs" / "deploy.md").read_text().lower()
        return
    pgbouncer = workload(project, "pgbouncer")
    assert pgbouncer["kind"] == "Deployment"
    assert pgbouncer["spec"]["replicas"] >= 2
    (container,) = pgbouncer["spec"]["template"]["spec"]["containers"]
    assert re.fullmatch(r"[\w./-]+:v?\d+\.\d+[\w.-]*", container["image"]), "pin PgBouncer"
    env = {variable["name"]: variable for variable in container["env"]}
    assert env["POOL_MODE"]["value"] == "transaction"
    # The server and its password, from the Secret: the app's direct URL.
    assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "my-service-secrets",
        "key": "DATABASE_DIRECT_URL",
    }
    assert {"DEFAULT_POOL_SIZE", "MAX_DB_CONNECTIONS", "MAX_CLIENT_CONN"} <= set(env)
    assert "readinessProbe" in container
    assert "livenessProbe" in container
    # The image writes its configuration at start: on a volume, the root
    # filesystem being read-only.
    (mount,) = container["volumeMounts"]
    assert mount["mountPath"] == "/etc/pgbouncer"
    selector = pgbouncer["spec"]["selector"]["matchLabels"]
    (budget,) = [
        doc
        for doc in of_kind(project, "PodDisruptionBudget")
        if doc["spec"]["selector"]["matchLabels"] == selector
    ]
    assert budget["spec"]["maxUnavailable"] == 1
    (service,) = [doc for doc in of_kind(project, "Service") if doc["spec"]["selector"] == selector]
    assert service["metadata"]["name"] == PGBOUNCER
    # The app reaches PgBouncer's Service; migrations and LISTEN the server.
    docs = (project / "docs" / "deploy.md").read_text()
    assert f"DATABASE_URL='postgresql+psycopg://app:PASSWORD@{PGBOUNCER}:5432/app'" in docs
    assert "DATABASE_DIRECT_URL='postgresql+psycopg://app:PASSWORD@db.example:5432/app'" in docs

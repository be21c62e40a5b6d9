"""The objects ``kubectl apply -k deploy/kubernetes`` would send, read from the files.

The kustomization's ``resources`` and its components' are read as they are:
patches and overlays are not applied, so a budget for an overlay of your own
reads its files the same way once they list theirs (``--manifests``).
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Kept out of the image (the Dockerfile copies no deploy/): read from a checkout,
# with the dev tools, which bring PyYAML.
import yaml

from ..config import Settings

KUSTOMIZATION = "kustomization.yaml"
# What Kubernetes waits for a pod to stop when its spec says nothing.
DEFAULT_GRACE_SECONDS = 30
# A Deployment's rollingUpdate.maxSurge when its spec says nothing.
DEFAULT_MAX_SURGE = "25%"


class ManifestError(Exception):
    """The manifests say something the budget cannot count; the message says what."""


@dataclass
class Manifests:
    """Every object of a kustomization, its components' included, and the file of each."""

    folder: Path
    objects: list[dict[str, Any]] = field(default_factory=list)
    files: dict[int, str] = field(default_factory=dict)

    @classmethod
    def load(cls, folder: Path) -> "Manifests":
        manifests = cls(folder)
        manifests.add(folder)
        return manifests

    def add(self, kustomization: Path) -> None:
        (spec,) = self.read(kustomization / KUSTOMIZATION)
        for name in spec.get("resources", []):
            for obj in self.read(kustomization / name):
                self.objects.append(obj)
                self.files[id(obj)] = str((kustomization / name).relative_to(self.folder))
        for component in spec.get("components", []):
            self.add(kustomization / component)

    @staticmethod
    def read(path: Path) -> list[dict[str, Any]]:
        try:
            return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
        except FileNotFoundError:
            raise ManifestError(f"{path} is named in a kustomization but is missing") from None

    def file_of(self, obj: dict[str, Any]) -> str:
        return self.files[id(obj)]


@dataclass
class Workload:
    """A Deployment, StatefulSet or Job: its pods, and how many run at most."""

    obj: dict[str, Any]
    file: str

    @property
    def kind(self) -> str:
        return str(self.obj["kind"])

    @property
    def name(self) -> str:
        return str(self.obj["metadata"]["name"])

    @property
    def component(self) -> str:
        return str(self.obj["metadata"].get("labels", {}).get("app.kubernetes.io/component", ""))

    @property
    def pod(self) -> dict[str, Any]:
        spec: dict[str, Any] = self.obj["spec"]["template"]["spec"]
        return spec

    @property
    def containers(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.pod["containers"]
        return found

    @property
    def init_containers(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.pod.get("initContainers", [])
        return found

    @property
    def grace_seconds(self) -> int:
        return int(self.pod.get("terminationGracePeriodSeconds", DEFAULT_GRACE_SECONDS))


def workloads(manifests: Manifests) -> Iterator[Workload]:
    for obj in manifests.objects:
        if obj.get("kind") in {"Deployment", "StatefulSet", "Job"}:
            yield Workload(obj, manifests.file_of(obj))


@dataclass(frozen=True)
class Scale:
    """How many pods of a workload run at most, and what sets that number."""

    pods: int
    # Where to change it: "maxReplicaCount in keda/worker-autoscaling.yaml".
    set_by: str


# KEDA's maxReplicaCount when a ScaledObject leaves it out.
KEDA_DEFAULT_MAX = 100


def scale(workload: Workload, manifests: Manifests) -> Scale:
    """The most pods the workload runs outside a rollout: its autoscaler's maximum, or replicas."""
    for obj in manifests.objects:
        if obj.get("spec", {}).get("scaleTargetRef", {}).get("name") != workload.name:
            continue
        where = manifests.file_of(obj)
        if obj["kind"] == "ScaledObject":
            maximum = int(obj["spec"].get("maxReplicaCount", KEDA_DEFAULT_MAX))
            return Scale(maximum, f"maxReplicaCount in {where}")
        if obj["kind"] == "HorizontalPodAutoscaler":
            return Scale(int(obj["spec"]["maxReplicas"]), f"maxReplicas in {where}")
    if workload.kind == "Job":
        parallelism = int(workload.obj["spec"].get("parallelism", 1))
        return Scale(parallelism, f"parallelism in {workload.file}")
    # No replicas field and no autoscaler: one, unless `kubectl scale` set
    # another number, which no file holds.
    return Scale(int(workload.obj["spec"].get("replicas", 1)), f"replicas in {workload.file}")


def rollout_pods(workload: Workload, pods: int) -> int:
    """The most pods at once while a new version rolls out (docs/deploy.md, "Connection budget")."""
    if workload.kind != "Deployment":
        # A StatefulSet replaces a pod once the old one is gone; a Job is not rolled.
        return pods
    if workload.grace_seconds == 0:
        return pods + max_surge(workload, pods)
    # Old pods keep their connections while they terminate: every new pod
    # may run beside every old one.
    return 2 * pods


def max_surge(workload: Workload, pods: int) -> int:
    strategy = workload.obj["spec"].get("strategy", {})
    surge = strategy.get("rollingUpdate", {}).get("maxSurge", DEFAULT_MAX_SURGE)
    if isinstance(surge, str) and surge.endswith("%"):
        return -(-pods * int(surge[:-1]) // 100)  # rounded up, as Kubernetes does
    return int(surge)


def environment(container: dict[str, Any], manifests: Manifests) -> dict[str, str]:
    """The container's variables that the manifests hold: its ConfigMaps', then its own ``env``."""
    config_maps = {
        obj["metadata"]["name"]: obj.get("data", {})
        for obj in manifests.objects
        if obj.get("kind") == "ConfigMap"
    }
    values: dict[str, str] = {}
    for source in container.get("envFrom", []):
        name = source.get("configMapRef", {}).get("name")
        values |= {key: str(value) for key, value in config_maps.get(name, {}).items()}
    for variable in container.get("env", []):
        if "value" in variable:
            values[variable["name"]] = str(variable["value"])
    return values


def setting(environment: dict[str, str], name: str) -> int:
    """A whole-number setting as the container sees it: the manifests', else config.py's default."""
    if name.upper() in environment:
        return int(environment[name.upper()])
    default = Settings.model_fields[name].default
    assert isinstance(default, int), name
    return default


def option(command: list[str], *flags: str) -> str | None:
    """The value of ``--flag value`` or ``--flag=value`` in a command, if given."""
    for index, part in enumerate(command):
        for flag in flags:
            if part == flag and index + 1 < len(command):
                return command[index + 1]
            if part.startswith(f"{flag}="):
                return part.split("=", 1)[1]
    return None

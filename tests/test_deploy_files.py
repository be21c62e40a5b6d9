"""Docker and CI files, checked without a Docker engine or GitHub.

Compose files are validated against the Compose specification's JSON schema and
workflows against GitHub's, both shipped by check-jsonschema.
"""

import json
from importlib.resources import files
from typing import Any

import jsonschema
import pytest
import yaml

from .conftest import BIN, Bake, run

VARIANTS = [
    {
        "database": database,
        "broker": broker,
        "use_beat": extras,
        "use_flower": extras,
        "web": "fastapi" if extras else "none",
    }
    for database in ("postgresql", "mysql", "sqlite")
    for broker in ("redis", "rabbitmq")
    for extras in (True, False)
]


def variant_id(answers: dict[str, Any]) -> str:
    extras = "all" if answers["use_beat"] else "bare"
    return f"{answers['database']}-{answers['broker']}-{extras}"


@pytest.fixture(scope="module")
def compose_schema() -> dict[str, Any]:
    vendor = files("check_jsonschema.builtin_schemas.vendor")
    return json.loads(vendor.joinpath("compose-spec.json").read_text())


@pytest.mark.parametrize("answers", VARIANTS, ids=variant_id)
def test_compose_file_is_valid_and_starts_in_order(
    bake: Bake, answers: dict[str, Any], compose_schema: dict[str, Any]
) -> None:
    project = bake(**answers)
    compose = yaml.safe_load((project / "docker-compose.yml").read_text())

    jsonschema.Draft202012Validator(compose_schema).validate(compose)
    services = compose["services"]
    expected = {"broker", "migrate", "worker", "relay"}
    expected |= {"db"} if answers["database"] != "sqlite" else set()
    expected |= {"beat", "flower"} if answers["use_beat"] else set()
    expected |= {"web"} if answers["web"] != "none" else set()
    assert set(services) == expected

    for name, service in services.items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond this machine"
    for server in {"broker", "db"} & set(services):
        assert "healthcheck" in services[server]
    for runner in {"worker", "relay", "beat", "web"} & set(services):
        needs = services[runner]["depends_on"]
        assert needs["migrate"]["condition"] == "service_completed_successfully"
        assert needs["broker"]["condition"] == "service_healthy"
        if "db" in services:
            assert needs["db"]["condition"] == "service_healthy"


@pytest.mark.parametrize("answers", VARIANTS[::2], ids=variant_id)
def test_workflow_is_a_valid_github_workflow(bake: Bake, answers: dict[str, Any]) -> None:
    project = bake(**answers)
    workflow = project / ".github" / "workflows" / "ci.yml"

    run(
        BIN / "check-jsonschema",
        "--builtin-schema",
        "vendor.github-workflows",
        workflow,
        cwd=project,
    )
    steps = "\n".join(
        str(step.get("run", ""))
        for step in yaml.safe_load(workflow.read_text())["jobs"]["test"]["steps"]
    )
    for command in ("ruff check", "ruff format --check", "mypy", "alembic check", "pytest"):
        assert command in steps


def test_container_runs_as_a_non_root_user(bake: Bake) -> None:
    dockerfile = (bake() / "Dockerfile").read_text().splitlines()

    users = [line.split()[1] for line in dockerfile if line.startswith("USER ")]
    assert users, "the image must switch to a non-root user"
    assert users[-1].split(":")[0] not in {"root", "0"}


def test_secrets_stay_out_of_the_image_context(bake: Bake) -> None:
    ignored = (bake() / ".dockerignore").read_text().splitlines()

    assert ".env" in ignored
    assert any(line.startswith(".venv") for line in ignored)


def test_the_worker_image_takes_its_log_level_from_settings(bake: Bake) -> None:
    dockerfile = (bake() / "Dockerfile").read_text()

    assert "--loglevel" not in dockerfile  # LOG_LEVEL, in settings, decides


def test_the_relay_stops_cleanly_and_reports_its_health(bake: Bake) -> None:
    compose = yaml.safe_load((bake() / "docker-compose.yml").read_text())
    relay = compose["services"]["relay"]

    assert relay["init"] is True  # PID 1 passes SIGTERM on
    assert relay["healthcheck"]["test"][-1] == "status"

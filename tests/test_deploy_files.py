"""Docker and CI files, checked without a Docker engine or GitHub.

Compose files are validated against the Compose specification's JSON schema and
workflows against GitHub's, both shipped by check-jsonschema; Dockerfiles are
linted by hadolint and workflows by actionlint (binaries from PyPI wheels).
"""

import json
import re
import tomllib
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml
from dotenv import dotenv_values

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


# What a developer looks at traces and metrics with, behind a profile.
LOOKING_GLASSES = {"jaeger", "prometheus"}


@pytest.mark.parametrize("answers", VARIANTS, ids=variant_id)
def test_compose_file_is_valid_and_starts_in_order(
    bake: Bake, answers: dict[str, Any], compose_schema: dict[str, Any]
) -> None:
    project = bake(**answers)
    compose = yaml.safe_load((project / "docker-compose.yml").read_text())

    jsonschema.Draft202012Validator(compose_schema).validate(compose)
    services = compose["services"]
    expected = {"broker", "migrate", "worker", "relay"} | LOOKING_GLASSES
    expected |= {"db"} if answers["database"] != "sqlite" else set()
    expected |= {"pgbouncer"} if answers["database"] == "postgresql" else set()
    expected |= {"beat", "flower"} if answers["use_beat"] else set()
    expected |= {"web"} if answers["web"] != "none" else set()
    assert set(services) == expected

    for name, service in services.items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond this machine"
    for name in LOOKING_GLASSES:
        assert services[name]["profiles"] == ["observability"], f"a plain `up` starts {name}"
    for server in {"broker", "db", "pgbouncer"} & set(services):
        assert "healthcheck" in services[server]
    for runner in {"worker", "relay", "beat", "web"} & set(services):
        needs = services[runner]["depends_on"]
        assert needs["migrate"]["condition"] == "service_completed_successfully"
        assert needs["broker"]["condition"] == "service_healthy"
        if "db" in services:
            assert needs["db"]["condition"] == "service_healthy"
        if "pgbouncer" in services:
            assert needs["pgbouncer"]["condition"] == "service_healthy"
    if "pgbouncer" in services:
        pgbouncer = services["pgbouncer"]
        assert pgbouncer["depends_on"]["db"]["condition"] == "service_healthy"
        assert pgbouncer["environment"]["POOL_MODE"] == "transaction"
        # The app through PgBouncer; migrations and the relay's LISTEN direct.
        app = services["worker"]["environment"]
        assert "@pgbouncer:5432/" in app["DATABASE_URL"]
        assert "@db:5432/" in app["DATABASE_DIRECT_URL"]


APP_SERVICES = {"migrate", "worker", "relay", "web", "beat", "flower"}
# ${NAME}, ${NAME:?message} or ${NAME:-default}: compose's interpolation.
VARIABLE = re.compile(r"\$\{(\w+)(?::?[-?][^}]*)?\}")
SERVER_SCHEMES = ("redis", "rediss", "amqp", "amqps", "postgresql", "mysql")


def interpolate(value: object, dotenv: dict[str, str | None]) -> str:
    """Fill in ${VARIABLES} as compose would from .env; each must be set there."""

    def lookup(match: re.Match[str]) -> str:
        name = match.group(1)
        assert dotenv.get(name), f"${{{name}}} is not set in .env"
        return str(dotenv[name])

    return VARIABLE.sub(lookup, str(value))


def environment(service: dict[str, Any], dotenv: dict[str, str | None]) -> dict[str, str]:
    entries = service.get("environment") or {}
    if isinstance(entries, list):
        entries = dict(entry.split("=", 1) for entry in entries)
    return {key: interpolate(value, dotenv) for key, value in entries.items()}


def server_urls(variables: dict[str, str | None]) -> dict[str, str]:
    return {
        key: str(value)
        for key, value in variables.items()
        if str(value).split("://")[0].split("+")[0] in SERVER_SCHEMES
    }


@pytest.mark.parametrize("answers", VARIANTS, ids=variant_id)
def test_compose_runs_no_broker_or_database_without_credentials(
    bake: Bake, answers: dict[str, Any]
) -> None:
    project = bake(**answers)
    dotenv = dotenv_values(project / ".env")
    services = yaml.safe_load((project / "docker-compose.yml").read_text())["services"]

    # What each server accepts: {scheme: (user or None, password)}.
    accepts: dict[str, tuple[str | None, str]] = {}
    broker = services["broker"]
    broker_env = environment(broker, dotenv)
    if answers["broker"] == "redis":
        command = [interpolate(part, dotenv) for part in broker["command"]]
        assert "--requirepass" in command, "Redis must ask for a password"
        password = command[command.index("--requirepass") + 1]
        # redis-cli exits 0 on NOAUTH: the healthcheck authenticates and wants PONG.
        assert broker_env["REDISCLI_AUTH"] == password
        assert "PONG" in " ".join(broker["healthcheck"]["test"])
        accepts["redis"] = (None, password)
    else:
        user, password = broker_env["RABBITMQ_DEFAULT_USER"], broker_env["RABBITMQ_DEFAULT_PASS"]
        assert user not in {"", "guest"}, "RabbitMQ must not keep its guest account"
        accepts["amqp"] = (user, password)
    if answers["database"] == "postgresql":
        db_env = environment(services["db"], dotenv)
        assert "POSTGRES_HOST_AUTH_METHOD" not in db_env
        accepts["postgresql"] = (db_env["POSTGRES_USER"], db_env["POSTGRES_PASSWORD"])
    elif answers["database"] == "mysql":
        db_env = environment(services["db"], dotenv)
        assert "MYSQL_ALLOW_EMPTY_PASSWORD" not in db_env
        assert len(db_env["MYSQL_ROOT_PASSWORD"]) >= 32
        accepts["mysql"] = (db_env["MYSQL_USER"], db_env["MYSQL_PASSWORD"])
    for _, password in accepts.values():
        assert len(password) >= 32, "a generated password, from .env"

    # Every URL of a server, in every service and in .env (for the host's
    # tools), carries the user and password that server accepts.
    urls = {f".env {key}": url for key, url in server_urls(dotenv).items()}
    for name, service in services.items():
        found = server_urls(environment(service, dotenv))
        urls |= {f"{name} {key}": url for key, url in found.items()}
    assert {"worker CELERY_BROKER_URL", ".env CELERY_BROKER_URL"} <= set(urls)
    for where, url in urls.items():
        parts = urlsplit(url)
        user, password = accepts[parts.scheme.split("+")[0]]
        assert parts.password == password, f"{where} has no or another password: {url}"
        if user is not None:
            assert parts.username == user, f"{where}: {url}"


@pytest.mark.parametrize("answers", VARIANTS, ids=variant_id)
def test_one_image_built_once_runs_every_app_service(bake: Bake, answers: dict[str, Any]) -> None:
    services = yaml.safe_load((bake(**answers) / "docker-compose.yml").read_text())["services"]

    builders = [name for name, service in services.items() if "build" in service]
    assert builders == ["migrate"]
    app = APP_SERVICES & set(services)
    assert {services[name]["image"] for name in app} == {"my-service:latest"}


@pytest.mark.parametrize("answers", VARIANTS, ids=variant_id)
def test_dockerfile_passes_hadolint(bake: Bake, answers: dict[str, Any]) -> None:
    project = bake(**answers)

    run(BIN / "hadolint", "--no-color", "Dockerfile", cwd=project)


def instructions(dockerfile: Path) -> list[str]:
    """The Dockerfile's instructions, continuation lines joined, comments left out."""
    text = re.sub(r"\\\n\s*", " ", dockerfile.read_text())
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


@pytest.mark.parametrize("use_flower", [True, False])
def test_dependencies_install_in_their_own_layer_from_the_lock(
    bake: Bake, use_flower: bool
) -> None:
    steps = instructions(bake(use_flower=use_flower) / "Dockerfile")

    def first(pattern: str) -> int:
        return next(i for i, step in enumerate(steps) if re.search(pattern, step))

    uv_image = steps[first(r"^FROM ghcr\.io/astral-sh/uv")]
    assert re.fullmatch(r"FROM ghcr\.io/astral-sh/uv:\d+\.\d+\.\d+ AS uv", uv_image), "pin uv"
    # Only the project's metadata and lock, then the dependencies alone, then
    # the code: a change to src/ reuses the dependencies' layer.
    assert steps[first(r"^COPY pyproject")] == "COPY pyproject.toml uv.lock* ./"
    dependencies = first(r"--no-install-project")
    assert first(r"^COPY pyproject") < dependencies < first(r"^COPY src ")
    assert first(r"^COPY src ") < first(r"uv sync --locked --no-dev --no-editable")
    syncs = [step for step in steps if "uv sync" in step]
    assert len(syncs) == 2
    for sync in syncs:
        assert "--locked" in sync
        assert ("--extra flower" in sync) is use_flower
    assert "pip install" not in "\n".join(steps)
    # The final stage starts from Python alone and takes the environment.
    final = max(i for i, step in enumerate(steps) if step.startswith("FROM "))
    assert steps[final].startswith("FROM python:")
    assert "COPY --from=build /app/.venv /app/.venv" in steps[final:]


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
    run(BIN / "actionlint", "-no-color", workflow.relative_to(project), cwd=project)
    steps = "\n".join(
        str(step.get("run", ""))
        for step in yaml.safe_load(workflow.read_text())["jobs"]["test"]["steps"]
    )
    for command in (
        "ruff check",
        "ruff format --check",
        "mypy",
        "lint-imports",
        "alembic check",
        "pytest",
    ):
        assert command in steps
    # It installs as the README says: from uv.lock, --locked, once one is committed.
    assert "uv sync --locked" in steps
    assert "pip install" not in steps
    assert "uv sync --locked" in (project / "README.md").read_text()


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


def web_port(command: list[str]) -> int:
    """The port of ``uvicorn ... --port N`` or ``gunicorn ... --bind HOST:N``."""
    if "--port" in command:
        return int(command[command.index("--port") + 1])
    return int(command[command.index("--bind") + 1].rsplit(":", 1)[1])


@pytest.mark.parametrize("answers", VARIANTS, ids=variant_id)
def test_prometheus_scrapes_every_service_where_it_serves_metrics(
    bake: Bake, answers: dict[str, Any]
) -> None:
    project = bake(**answers)
    compose = yaml.safe_load((project / "docker-compose.yml").read_text())
    services = compose["services"]
    config = yaml.safe_load(compose["configs"]["prometheus-config"]["content"])

    scraped = {
        (target, discovery["port"])
        for job in config["scrape_configs"]
        for discovery in job["dns_sd_configs"]
        for target in discovery["names"]
    }
    serving = {
        (name, int(services[name]["environment"]["METRICS_PORT"])) for name in ("worker", "relay")
    }
    if answers["web"] != "none":
        serving.add(("web", web_port(services["web"]["command"])))
    assert scraped == serving


# A minor version at least: postgres:17.6, rabbitmq:4.3-management, prom/prometheus:v3.5.0.
PINNED = re.compile(r"[\w./-]+:v?\d+\.\d+[\w.-]*")


@pytest.mark.parametrize("answers", VARIANTS, ids=variant_id)
def test_server_images_are_pinned_to_a_minor_version(bake: Bake, answers: dict[str, Any]) -> None:
    project = bake(**answers)
    compose = yaml.safe_load((project / "docker-compose.yml").read_text())
    workflow = yaml.safe_load((project / ".github" / "workflows" / "ci.yml").read_text())

    images = [
        service["image"]
        for service in compose["services"].values()
        if "image" in service and service["image"] != "my-service:latest"
    ] + [
        service["image"]
        for job in workflow["jobs"].values()
        for service in job.get("services", {}).values()
    ]

    assert images
    assert [image for image in images if not PINNED.fullmatch(image)] == []


def test_celery_is_one_that_rabbitmq_4_3_accepts(bake: Bake) -> None:
    project = bake(broker="rabbitmq")
    dependencies = tomllib.loads((project / "pyproject.toml").read_text())["project"][
        "dependencies"
    ]

    (celery,) = [dependency for dependency in dependencies if dependency.startswith("celery")]
    floor = tuple(int(part) for part in celery.split(">=")[1].split("."))
    assert floor >= (5, 7), celery

"""Every option value bakes a project that is complete, valid and lint-clean."""

import ast
import json
import py_compile
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from dotenv import dotenv_values

from .conftest import BIN, TEMPLATE, Bake, run, variants

# Jinja left behind; GitHub's own ${{ expression }} syntax is not Jinja.
# Not GitHub's ${{ expressions }}, nor Prometheus's {{ $labels.x }} in alert rules.
UNRENDERED = re.compile(r"(?<!\$)\{\{(?! \$)|\{%|\{#")


def text_files(project: Path) -> list[Path]:
    files = []
    for path in sorted(project.rglob("*")):
        if path.is_file():
            try:
                path.read_text()
            except UnicodeDecodeError:
                continue
            files.append(path)
    return files


@pytest.mark.parametrize("answers", variants())
def test_variant_bakes_into_a_clean_project(
    bake: Bake, answers: dict[str, Any], typecheck_python: Path
) -> None:
    project = bake(**answers)

    leftovers = [
        f"{path.relative_to(project)}: {line.strip()}"
        for path in text_files(project)
        for line in path.read_text().splitlines()
        if UNRENDERED.search(line)
    ]
    assert leftovers == []

    for source in project.rglob("*.py"):
        py_compile.compile(str(source), doraise=True)

    tomllib.loads((project / "pyproject.toml").read_text())
    for manifest in [*project.rglob("*.yml"), *project.rglob("*.yaml")]:
        assert all(yaml.safe_load_all(manifest.read_text())), manifest
    assert all(dotenv_values(project / ".env.example").values())

    run(BIN / "ruff", "check", ".", cwd=project)
    run(BIN / "ruff", "format", "--check", ".", cwd=project)
    run(typecheck_python, "-m", "mypy", cwd=project)
    # The layers contract in pyproject.toml; the package is not installed there.
    run(typecheck_python.parent / "lint-imports", cwd=project, env={"PYTHONPATH": "src"})


WEB = "src/my_service/web"
WEB_FILES = [
    f"{WEB}/__init__.py",
    f"{WEB}/app.py",
    f"{WEB}/metrics.py",
    f"{WEB}/routes/__init__.py",
    f"{WEB}/routes/health.py",
    f"{WEB}/routes/tasks.py",
    f"{WEB}/routes/users.py",
    f"{WEB}/schemas.py",
    f"{WEB}/user_schemas.py",
    f"{WEB}/user_registration.py",
    f"{WEB}/task_status.py",
    f"{WEB}/server_checks.py",
    "scripts/demo_http.py",
    "scripts/web_process.py",
    "tests/support/web_server.py",
    "tests/web/test_users.py",
    "tests/web/test_health.py",
    "tests/web/test_task_status.py",
    "tests/telemetry/test_logs.py",
]
FASTAPI_ONLY = [f"{WEB}/deps.py", "tests/web/test_openapi.py"]
FLASK_ONLY = [f"{WEB}/problems.py", f"{WEB}/gunicorn_config.py"]
FLASK_VARIANTS = [
    f"{WEB}/{module}_flask.py"
    for module in ("app", "metrics", "problems", "routes/health", "routes/tasks", "routes/users")
]
DELIVERY = "src/my_service/delivery"
# Each broker keeps its own queues, delivery counting, batch publishing and
# settings, under one name.
BROKER_MODULES = [
    f"{DELIVERY}/broker.py",
    f"{DELIVERY}/delivery_count.py",
    f"{DELIVERY}/batch_publish.py",
    "tests/delivery/test_dead_tasks.py",
    "src/my_service/broker_settings.py",
    "tests/test_broker_settings.py",
]
BROKER_VARIANTS = [
    *(
        f"{DELIVERY}/{module}_{broker}.py"
        for module in ("broker", "delivery_count", "batch_publish")
        for broker in ("redis", "rabbitmq")
    ),
    *(
        f"{module}_{broker}.py"
        for module in ("src/my_service/broker_settings", "tests/test_broker_settings")
        for broker in ("redis", "rabbitmq")
    ),
]
REDIS_ONLY = ["tests/delivery/test_redis_restart.py", "tests/delivery/test_redis_queues.py"]
RABBITMQ_ONLY = [
    "tests/delivery/test_rabbitmq_restart.py",
    "tests/delivery/test_rabbitmq_queues.py",
    "tests/support/rabbitmq_vhost.py",
    "tests/support/vhost_round_trip.py",
]

DATABASE = "src/my_service/database"
# Each database keeps its own driver module and its tests under one name;
# PostgreSQL alone has the commit notices that wake the relay.
DATABASE_MODULES = [
    f"{DATABASE}/driver.py",
    f"{DATABASE}/sqlite.py",
    "src/my_service/outbox/wakeup.py",
    "migrations/versions/0004_outbox_commit_notice.py",
]
DATABASE_VARIANTS = [
    *(f"{DATABASE}/driver_{database}.py" for database in ("postgresql", "mysql", "sqlite")),
    *(f"tests/database/test_driver_{database}.py" for database in ("postgresql", "mysql")),
    "src/my_service/outbox/wakeup_postgresql.py",
    "migrations/versions/0004_outbox_commit_notice_postgresql.py",
]


@pytest.mark.parametrize(
    ("answers", "present", "absent"),
    [
        ({"use_beat": False}, [], ["src/my_service/periodic.py", "tests/test_periodic.py"]),
        ({"use_beat": True}, ["src/my_service/periodic.py", "tests/test_periodic.py"], []),
        ({"use_docker": False}, [], ["Dockerfile", "docker-compose.yml", ".dockerignore"]),
        ({"use_docker": True}, ["Dockerfile", "docker-compose.yml", ".dockerignore"], []),
        ({"use_github_actions": False}, [], [".github"]),
        ({"use_github_actions": True}, [".github/workflows/ci.yml"], []),
        ({"web": "fastapi"}, [*WEB_FILES, *FASTAPI_ONLY], [*FLASK_ONLY, *FLASK_VARIANTS]),
        ({"web": "flask"}, [*WEB_FILES, *FLASK_ONLY], [*FASTAPI_ONLY, *FLASK_VARIANTS]),
        ({"web": "none"}, [], [WEB, *WEB_FILES, "tests/web"]),
        ({"broker": "redis"}, [*BROKER_MODULES, *REDIS_ONLY], [*BROKER_VARIANTS, *RABBITMQ_ONLY]),
        (
            {"database": "postgresql"},
            [*DATABASE_MODULES, "tests/database/test_driver.py"],
            DATABASE_VARIANTS,
        ),
        (
            {"database": "mysql"},
            [*DATABASE_MODULES, "tests/database/test_driver.py"],
            DATABASE_VARIANTS,
        ),
        ({"database": "sqlite"}, DATABASE_MODULES, DATABASE_VARIANTS),
        (
            {"broker": "rabbitmq"},
            [*BROKER_MODULES, *RABBITMQ_ONLY],
            [*BROKER_VARIANTS, *REDIS_ONLY],
        ),
    ],
)
def test_switches_keep_or_remove_their_files(
    bake: Bake, answers: dict[str, Any], present: list[str], absent: list[str]
) -> None:
    project = bake(**answers)

    assert [p for p in present if not (project / p).exists()] == []
    assert [p for p in absent if (project / p).exists()] == []


@pytest.mark.parametrize("use_flower", [True, False])
def test_flower_switch_controls_its_extra_and_target(bake: Bake, use_flower: bool) -> None:
    project = bake(use_flower=use_flower)

    extras = tomllib.loads((project / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert ("flower" in extras) is use_flower
    assert ("flower:" in (project / "Makefile").read_text()) is use_flower


@pytest.mark.parametrize(
    ("web", "framework", "server"),
    [("fastapi", "FastAPI(", "uvicorn"), ("flask", "Flask(", "gunicorn"), ("none", None, None)],
)
def test_web_option_brings_its_framework_server_target_and_service(
    bake: Bake, web: str, framework: str | None, server: str | None
) -> None:
    project = bake(web=web)

    dependencies = " ".join(
        tomllib.loads((project / "pyproject.toml").read_text())["project"]["dependencies"]
    )
    makefile = (project / "Makefile").read_text()
    services = yaml.safe_load((project / "docker-compose.yml").read_text())["services"]
    if framework is None:
        assert not re.search(r"fastapi|flask|uvicorn|gunicorn", dependencies)
        assert "\nweb:" not in makefile
        assert "demo_http" not in makefile
        assert "web" not in services
        return
    assert framework in (project / "src/my_service/web/app.py").read_text()
    assert web in dependencies
    assert server in dependencies
    assert f"$(BIN)/{server} $(PACKAGE).web:app" in makefile
    assert "scripts.demo_http" in makefile
    assert services["web"]["command"][0] == server
    assert services["web"]["depends_on"]["migrate"] == {
        "condition": "service_completed_successfully"
    }
    assert services["web"]["ports"] == ["127.0.0.1:8000:8000"]
    assert "/health" in " ".join(services["web"]["healthcheck"]["test"])


@pytest.mark.parametrize("database", ["postgresql", "mysql", "sqlite"])
def test_settings_default_to_the_chosen_database(bake: Bake, database: str) -> None:
    project = bake(database=database)

    config = (project / "src/my_service/config.py").read_text()
    assert f'database_url: str = "{database}' in config
    env = dotenv_values(project / ".env")
    assert str(env["DATABASE_URL"]).startswith(database)


def test_dotenv_gets_fresh_secrets_that_appear_nowhere_else(bake: Bake) -> None:
    first = bake(database="mysql", broker="rabbitmq", use_flower=True)
    first_env = dotenv_values(first / ".env")
    secrets = {
        key: value
        for key, value in first_env.items()
        if key in {"DB_PASSWORD", "DB_ROOT_PASSWORD", "BROKER_PASSWORD"}
    }
    secrets["FLOWER"] = str(first_env["FLOWER_BASIC_AUTH"]).split(":", 1)[1]

    assert len(secrets) == 4
    assert all(value and len(value) >= 32 for value in secrets.values())
    assert len(set(secrets.values())) == 4, "each secret is generated on its own"
    assert "change-me" not in (first / ".env").read_text()
    assert ".env" in (first / ".gitignore").read_text().splitlines()
    for path in text_files(first):
        if path.name != ".env":
            text = path.read_text()
            assert not [s for s in secrets.values() if s and s in text], path

    second = bake(database="mysql", broker="rabbitmq", use_flower=True)
    assert dotenv_values(second / ".env")["DB_PASSWORD"] != first_env["DB_PASSWORD"]


def test_quotes_in_free_text_answers_keep_files_valid(bake: Bake) -> None:
    name, description = 'Seán O\'Brien "Bob"', 'Syncs "orders" \\ nightly'

    project = bake(author_name=name, description=description)

    metadata = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    assert metadata["authors"][0]["name"] == name
    assert metadata["description"] == description
    # The API's OpenAPI description carries them too, as Python string literals.
    web = (project / "src/my_service/web/app.py").read_text()
    assert json.dumps(description) in web
    py_compile.compile(str(project / "src/my_service/web/app.py"), doraise=True)


@pytest.mark.parametrize(("database", "broker"), [("postgresql", "redis"), ("mysql", "rabbitmq")])
def test_docs_draw_the_architecture_and_map_the_common_errors(
    bake: Bake, database: str, broker: str
) -> None:
    project = bake(database=database, broker=broker)
    design = (project / "docs" / "design.md").read_text()
    troubleshooting = (project / "docs" / "troubleshooting.md").read_text()

    diagram = design.split("```mermaid\n", 1)[1].split("```", 1)[0]
    assert diagram.startswith("flowchart")
    for part in ("broker", "worker", "database", "outbox", "relay"):
        assert part in diagram
    for symptom in ("ResourceClosedError", "PendingRollbackError", "before the row exists"):
        assert symptom in troubleshooting
    guarantees = (project / "docs" / "guarantees.md").read_text()
    assert guarantees.count("\n- **") >= 15, "the ledger: each guarantee, its test, its limit"
    assert len(design.splitlines()) <= 250, "design.md keeps the why, briefly"
    readme = (project / "README.md").read_text()
    for document in ("design", "guarantees", "configuration", "troubleshooting"):
        assert f"docs/{document}.md" in readme


def test_the_bake_is_the_users_service_not_the_templates_showcase(bake: Bake) -> None:
    project = bake()

    assert len((project / "README.md").read_text().splitlines()) < 200
    assert not (project / "benchmarks").exists()
    assert not (project / "src" / "my_service" / "testing.py").exists()
    # No figure measured on the template's machines, in any file.
    for path in project.rglob("*"):
        if path.is_file() and ".git" not in path.parts:
            text = path.read_text(errors="replace")
            for template_story in ("load average", "make bench", "2013 post", "the post's"):
                assert template_story not in text, f"{path}: {template_story}"


def test_every_question_has_a_prompt_and_every_choice_a_label() -> None:
    context = json.loads((TEMPLATE / "cookiecutter.json").read_text())
    prompts = context["__prompts__"]
    questions = [key for key in context if not key.startswith("_")]

    assert set(prompts) == set(questions)
    for key in questions:
        if isinstance(context[key], list):
            labels = prompts[key]
            assert labels["__prompt__"]
            assert all(labels.get(choice) for choice in context[key]), key


def test_without_docker_nothing_mentions_docker_or_compose(bake: Bake) -> None:
    project = bake(use_docker=False)

    for path in project.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace").lower()
            assert "docker" not in text, path
            assert "compose" not in text, path


def test_the_beat_schedule_is_not_committed(bake: Bake) -> None:
    project = bake(use_beat=True)
    run("git", "init", "--quiet", cwd=project)

    schedules = ["celerybeat-schedule", "celerybeat-schedule.db"]
    ignored = run("git", "check-ignore", *schedules, cwd=project)

    assert ignored.stdout.split() == schedules


def imported_modules(source: str) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
    return modules


@pytest.mark.parametrize("answers", variants())
def test_nothing_outside_the_tests_imports_test_code(bake: Bake, answers: dict[str, Any]) -> None:
    project = bake(**answers)

    importers = [
        str(path.relative_to(project))
        for path in project.rglob("*.py")
        if path.relative_to(project).parts[0] != "tests"
        and any(module.split(".")[0] == "tests" for module in imported_modules(path.read_text()))
    ]

    assert importers == []

"""Remove what the answers did not ask for, then write a private ``.env``.

One small function per option, in the style of cookiecutter-django: the template
carries every file, and each switch that is off deletes its files here.
"""

import secrets
import shutil
from pathlib import Path

PACKAGE = Path("src") / "{{ cookiecutter.package_name }}"

# Placeholders in .env.example; each becomes a fresh secret in .env. The
# database's and the broker's (Redis's requirepass, or RabbitMQ's app user) go
# into URLs too: DATABASE_URL, CELERY_BROKER_URL, CELERY_RESULT_BACKEND.
SECRET_PLACEHOLDERS = (
    "change-me-db-root",
    "change-me-db",
    "change-me-broker",
    "change-me-flower",
)


def remove(*paths: str | Path) -> None:
    for path in map(Path, paths):
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


KUBERNETES = Path("deploy") / "kubernetes"


def remove_beat_files() -> None:
    remove(PACKAGE / "periodic.py", PACKAGE / "scheduler.py", "tests/test_periodic.py")
    remove("tests/test_scheduler.py", "tests/test_beat_schedule.py", KUBERNETES / "beat.yaml")


WEB = PACKAGE / "web"
# Flask's modules, in web/ and web/routes/, end in _flask: each replaces its
# FastAPI twin (problems_flask.py has none, FastAPI raises HTTPException).
FLASK_VARIANTS = "**/*_flask.py"


def keep_fastapi_web() -> None:
    remove(*WEB.glob(FLASK_VARIANTS), WEB / "gunicorn_config.py")


def keep_flask_web() -> None:
    for variant in list(WEB.glob(FLASK_VARIANTS)):
        variant.replace(variant.with_name(variant.name.removesuffix("_flask.py") + ".py"))
    remove(WEB / "deps.py", "tests/web/test_openapi.py")


def remove_web_files() -> None:
    remove(WEB, "scripts/demo_http.py", "scripts/web_process.py", "tests/web")
    remove("tests/support/web_server.py", "tests/telemetry/test_logs.py")
    remove(KUBERNETES / "web.yaml", KUBERNETES / "web-autoscaling.yaml")
    remove(PACKAGE / "idempotency_keys.py", "migrations/versions/0007_idempotency_keys.py")


DELIVERY = PACKAGE / "delivery"
BROKERS = ("redis", "rabbitmq")
# Each broker has its own queues, delivery counting and batch publishing:
# delivery/broker_<broker>.py, delivery_count_<broker>.py and
# batch_publish_<broker>.py, kept without the suffix; and its own settings,
# broker_settings_<broker>.py at the package's top and their tests.
BROKER_MODULES = ("broker", "delivery_count", "batch_publish")
BROKER_SETTINGS = (PACKAGE / "broker_settings", Path("tests") / "test_broker_settings")


def keep_broker(broker: str) -> None:
    modules = [DELIVERY / module for module in BROKER_MODULES] + list(BROKER_SETTINGS)
    for other in BROKERS:
        for module in modules:
            path = module.with_name(f"{module.name}_{other}.py")
            if other == broker:
                path.replace(module.with_name(f"{module.name}.py"))
            else:
                remove(path)
        if other != broker:
            remove(
                f"tests/delivery/test_{other}_restart.py", f"tests/delivery/test_{other}_queues.py"
            )
            remove(f"tests/worker/test_{other}_outage.py")
    if broker != "rabbitmq":
        remove("tests/support/rabbitmq_vhost.py", "tests/support/vhost_round_trip.py")


DATABASE = PACKAGE / "database"
DATABASES = ("postgresql", "mysql", "sqlite")
# Each database has its own driver module (database/driver_<database>.py, kept
# as driver.py) and its tests; PostgreSQL alone has commit notices, which wake
# the relay (outbox/wakeup_postgresql.py and its migration, in place of the
# clock-only ones). SQLite's own module stays in every bake: embedded mode runs on it.
NOTICE_MIGRATION = Path("migrations") / "versions" / "0004_outbox_commit_notice"


def keep_database(database: str) -> None:
    for other in DATABASES:
        driver = DATABASE / f"driver_{other}.py"
        driver_tests = Path("tests") / "database" / f"test_driver_{other}.py"
        if other == database:
            driver.replace(DATABASE / "driver.py")
            if driver_tests.exists():
                driver_tests.replace(driver_tests.with_name("test_driver.py"))
        else:
            remove(driver, driver_tests)
    keep_capacity_for(database)
    notices = (PACKAGE / "outbox" / "wakeup_postgresql.py", f"{NOTICE_MIGRATION}_postgresql.py")
    if database == "postgresql":
        notices[0].replace(PACKAGE / "outbox" / "wakeup.py")
        Path(notices[1]).replace(f"{NOTICE_MIGRATION}.py")
    else:
        remove(*notices)
        # PgBouncer pools PostgreSQL's connections only.
        remove("tests/support/pgbouncer.py", "tests/database/test_pgbouncer.py")
        remove("tests/test_tasks_through_pgbouncer.py")


# The connection budget (make capacity) reads the server's limit through
# capacity/server_<database>.py, kept as server.py; PgBouncer, a PostgreSQL
# pooler, comes with its manifest and its part of the budget.
CAPACITY = PACKAGE / "capacity"


def keep_capacity_for(database: str) -> None:
    for other in DATABASES:
        server = CAPACITY / f"server_{other}.py"
        if other == database and server.exists():  # SQLite has none: no server
            server.replace(CAPACITY / "server.py")
        else:
            remove(server)
    if database != "postgresql":
        remove(CAPACITY / "pgbouncer.py", KUBERNETES / "pgbouncer.yaml")


def remove_capacity_files() -> None:
    # It counts what the manifests deploy: without them there is nothing to count.
    remove(CAPACITY, "tests/test_capacity.py")


def remove_docker_files() -> None:
    remove("Dockerfile", "docker-compose.yml", ".dockerignore", "deploy", "docs/deploy.md")
    remove("tests/test_kubernetes_manifests.py", "tests/test_compose_file.py")
    remove_capacity_files()


def remove_kubernetes_files() -> None:
    # One SQLite file cannot be shared by pods on several nodes (docs/deploy.md).
    remove("deploy", "tests/test_kubernetes_manifests.py")
    remove_capacity_files()


def remove_github_actions() -> None:
    remove(".github")


def new_secret() -> str:
    """128 random bits as 32 hex digits: safe in a URL's password as they are.

    Hex needs no percent-encoding, so DATABASE_URL and CELERY_BROKER_URL take the
    same string as the server's own setting; Redis, RabbitMQ, PostgreSQL and
    MySQL all accept it.
    """
    return secrets.token_hex(16)


def write_dotenv() -> None:
    """Copy .env.example to .env with a new random secret for each placeholder.

    A fixed password in a template ends up in every service made from it; this
    one exists only in the git-ignored .env of this project.
    """
    text = Path(".env.example").read_text()
    for placeholder in SECRET_PLACEHOLDERS:
        text = text.replace(placeholder, new_secret())
    Path(".env").write_text(text)


def main() -> None:
    {"fastapi": keep_fastapi_web, "flask": keep_flask_web, "none": remove_web_files}[
        "{{ cookiecutter.web }}"
    ]()
    keep_database("{{ cookiecutter.database }}")
    keep_broker("{{ cookiecutter.broker }}")
    if not {{ cookiecutter.use_beat }}:
        remove_beat_files()
    if not {{ cookiecutter.use_docker }}:
        remove_docker_files()
    elif "{{ cookiecutter.database }}" == "sqlite":
        remove_kubernetes_files()
    if not {{ cookiecutter.use_github_actions }}:
        remove_github_actions()
    write_dotenv()


if __name__ == "__main__":
    main()

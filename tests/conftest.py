"""Shared helpers for the template's tests: baking, and the tools to check bakes."""

import json
import os
import socket
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

TEMPLATE = Path(__file__).resolve().parents[1]
# The template's virtual environment: cookiecutter, ruff and uv live here.
BIN = Path(sys.executable).parent
CONTEXT = json.loads((TEMPLATE / "cookiecutter.json").read_text())


def option_values() -> dict[str, list[Any]]:
    """Every user-facing choice and its possible values; the first is the default."""
    options: dict[str, list[Any]] = {}
    for key, value in CONTEXT.items():
        if isinstance(value, list):
            options[key] = value
        elif isinstance(value, bool):
            options[key] = [value, not value]
    return options


def variants() -> list[Any]:
    """The defaults, then each non-default value of each option, one at a time."""
    params = [pytest.param({}, id="defaults")]
    for key, values in option_values().items():
        for value in values[1:]:
            params.append(pytest.param({key: value}, id=f"{key}={value}"))
    return params


Bake = Callable[..., Path]


@pytest.fixture
def bake(cookies: Any) -> Bake:
    """Bake with the given answers; fail the test if cookiecutter does."""

    def _bake(**answers: Any) -> Path:
        result = cookies.bake(extra_context=answers)
        assert result.exit_code == 0, result.exception
        assert result.exception is None
        return Path(result.project_path)

    return _bake


def run(
    *command: str | Path, cwd: Path, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Run a command; on failure, show its output in the assertion message."""
    completed = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert completed.returncode == 0, (
        f"{' '.join(map(str, command))} failed in {cwd}:\n{completed.stdout}\n{completed.stderr}"
    )
    return completed


def runtime_requirements(project: Path) -> list[str]:
    """The baked project's dependencies, dev tools and sentry extra, as pip requirement strings."""
    project_table = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    extras = project_table["optional-dependencies"]
    # make install installs the sentry extra too: mypy reads telemetry/error_tracking.py with it.
    return [*project_table["dependencies"], *extras["dev"], *extras["sentry"]]


@pytest.fixture(scope="session")
def typecheck_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with every baked project's dependencies, for running mypy on bakes.

    Variants differ in database drivers and Flower, which the code never
    imports (they are named in URLs), and in the web framework: the default
    bake's dependencies and Flask's, in one environment, serve them all.
    """
    from cookiecutter.main import cookiecutter

    work = tmp_path_factory.mktemp("typecheck")
    requirements = set()
    for web in ("fastapi", "flask"):
        project = Path(
            cookiecutter(
                str(TEMPLATE), no_input=True, output_dir=str(work / web), extra_context={"web": web}
            )
        )
        requirements |= set(runtime_requirements(project))
    venv = work / "venv"
    run(BIN / "uv", "venv", "--quiet", "--python", sys.executable, venv, cwd=work)
    python = venv / "bin" / "python"
    run(
        BIN / "uv",
        "pip",
        "install",
        "--quiet",
        "--python",
        python,
        *sorted(requirements),
        cwd=work,
    )
    return python


def server_is_up(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 0), 2):
            return True
    except OSError:
        return False


# How to start each server on a machine like the CI one (see .ci/run).
START_COMMANDS = {
    "postgresql": "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    "mysql": "start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd",
    "redis": "redis-server --daemonize yes --port 6379",
    "amqp": "rabbitmq-server -detached",
}


def require_servers(*urls: str) -> None:
    """Fail under CI, skip elsewhere, when a server a test needs is down."""
    for url in urls:
        if not server_is_up(url):
            scheme = urlsplit(url).scheme.split("+")[0]
            message = f"{url} is not reachable; start it with: {START_COMMANDS[scheme]}"
            if os.environ.get("CI") == "true":
                pytest.fail(message, pytrace=False)
            pytest.skip(message)

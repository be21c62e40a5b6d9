"""Each bake speaks only of itself: no word about an option value it does not have.

A bake with PostgreSQL has no sentence, comment, code path or dependency about
MySQL; a bake on Redis none about RabbitMQ; a bake without a web API names
neither framework. SQLite is not checked: every bake keeps it for its embedded
mode (``make demo`` and the tests run on SQLite with ``sqla+sqlite`` and
``db+sqlite``).
"""

import re
from pathlib import Path
from typing import Any

import pytest

from .conftest import Bake, option_values

# The words that name each value's server, driver or framework.
NAMES = {
    ("database", "postgresql"): r"postgres\w*|psycopg\w*|libpq|pgbouncer\w*",
    ("database", "mysql"): r"mysql\w*|mariadb\w*|innodb",
    # The visibility timeout is Redis's alone.
    ("broker", "redis"): r"redis\w*|\w*visibility\w*",
    # Not Celery's app.amqp, its messaging API on every broker.
    ("broker", "rabbitmq"): r"rabbit\w*|(?<!app\.)amqp\w*|pyamqp|quorum",
    ("web", "fastapi"): r"fastapi|uvicorn|starlette",
    ("web", "flask"): r"flask\w*|gunicorn|werkzeug",
}
CHECKED_OPTIONS = ("database", "broker", "web")

# Where the code side lives: the package, the migrations, the settings and the
# files that install, run and deploy it.
CODE = [
    "src",
    "migrations",
    "scripts",
    "pyproject.toml",
    "Makefile",
    ".env.example",
    "alembic.ini",
    "Dockerfile",
    "docker-compose.yml",
    ".dockerignore",
    "deploy",
    "prometheus",
    ".github",
]
DOCS = ["docs", "README.md"]

# (file, phrase): a line of that file containing that phrase may name another
# value. Keep it short: each entry is a sentence that must compare options.
ALLOWED: list[tuple[str, str]] = []


def other_values_pattern(answers: dict[str, Any]) -> re.Pattern[str]:
    """The names of every database, broker and web value this bake did not choose."""
    options = option_values()
    chosen = {option: answers.get(option, options[option][0]) for option in CHECKED_OPTIONS}
    names = [
        pattern
        for (option, value), pattern in NAMES.items()
        if value != chosen[option] and value in options[option]
    ]
    return re.compile(rf"\b({'|'.join(names)})\b", re.IGNORECASE)


def files_under(project: Path, roots: list[str]) -> list[Path]:
    files = []
    for root in roots:
        path = project / root
        candidates = sorted(path.rglob("*")) if path.is_dir() else [path]
        files += [p for p in candidates if p.is_file() and "__pycache__" not in p.parts]
    return files


def mentions_of_other_values(project: Path, roots: list[str], answers: dict[str, Any]) -> list[str]:
    """Every line naming another value, as ``file:line: text``."""
    pattern = other_values_pattern(answers)
    hits = []
    for path in files_under(project, roots):
        name = str(path.relative_to(project))
        try:
            lines = path.read_text().splitlines()
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(lines, 1):
            if not pattern.search(line):
                continue
            if any(name == file and phrase in line for file, phrase in ALLOWED):
                continue
            hits.append(f"{name}:{number}: {line.strip()}")
    return hits


def each_value() -> list[Any]:
    """The defaults, then every other database, broker and web value, one at a time."""
    params = [pytest.param({}, id="defaults")]
    for option in CHECKED_OPTIONS:
        for value in option_values()[option][1:]:
            params.append(pytest.param({option: value}, id=f"{option}={value}"))
    return params


@pytest.mark.parametrize("answers", each_value())
def test_the_code_speaks_only_of_its_own_options(bake: Bake, answers: dict[str, Any]) -> None:
    project = bake(**answers)

    assert mentions_of_other_values(project, CODE, answers) == []


@pytest.mark.parametrize("answers", each_value())
def test_the_docs_speak_only_of_their_own_options(bake: Bake, answers: dict[str, Any]) -> None:
    project = bake(**answers)

    assert mentions_of_other_values(project, DOCS, answers) == []

"""Migrations run forwards and backwards, and match the models exactly."""

import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url
from sqlalchemy_utils import create_database, drop_database

from .support.database_state import SERVICE_TABLES
from .support.environment import PROJECT_ROOT
from .support.processes import alembic
from .support.waiting import TIMEOUT

PRESTART = "{{ cookiecutter.package_name }}.prestart"


@pytest.fixture
def empty_database(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A second database beside the run's one, for migrating up and down."""
    url = make_url(database_url)
    name = url.database or ""
    if name.endswith(".sqlite3"):
        other = url.set(database=name.replace(".sqlite3", "-migrations.sqlite3"))
    else:
        other = url.set(database=f"{name}_migrations")
    other_url = other.render_as_string(hide_password=False)
    create_database(other_url)
    monkeypatch.setenv("DATABASE_URL", other_url)
    yield other_url
    drop_database(other_url)


def tables(database_url: str) -> set[str]:
    engine = create_engine(database_url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade_round_trip(empty_database: str) -> None:
    alembic("upgrade", "head")
    assert tables(empty_database) == {*SERVICE_TABLES, "alembic_version"}

    alembic("downgrade", "base")
    assert tables(empty_database) <= {"alembic_version"}

    alembic("upgrade", "head")
    assert tables(empty_database) == {*SERVICE_TABLES, "alembic_version"}


def test_models_and_migrations_do_not_drift(empty_database: str) -> None:
    alembic("upgrade", "head")

    check = alembic("check")

    assert "No new upgrade operations detected" in check.stdout + check.stderr


def test_prestart_says_the_database_is_up_and_migrated(database_url: str) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", PRESTART],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )

    assert "database is up and migrated" in completed.stderr


def wait_for_migrations(seconds: float) -> subprocess.Popen[str]:
    """``prestart --wait-for-migrations``, as a deploy runs it before each app process."""
    return subprocess.Popen(
        [sys.executable, "-m", PRESTART, "--wait-for-migrations", str(seconds)],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_an_app_process_waits_for_the_migrations_of_its_version(empty_database: str) -> None:
    alembic("upgrade", "head")
    alembic("downgrade", "-1")
    impatient = wait_for_migrations(1)
    output, _ = impatient.communicate(timeout=TIMEOUT)
    assert impatient.returncode != 0
    assert "run the migrations" in output

    waiting = wait_for_migrations(TIMEOUT)
    try:
        time.sleep(1)
        assert waiting.poll() is None, "it went on before the schema reached its head"
        alembic("upgrade", "head")
        output, _ = waiting.communicate(timeout=TIMEOUT)
    finally:
        waiting.kill()
    assert waiting.returncode == 0, output
    assert "the schema is at this code's head" in output


@pytest.mark.usefixtures("database_url")
def test_new_revisions_are_numbered_like_the_first_ones() -> None:
    versions = PROJECT_ROOT / "migrations" / "versions"
    before = set(versions.glob("*.py"))
    head = max(int(path.name[:4]) for path in before)
    try:
        alembic("revision", "-m", "nothing yet")
        new = set(versions.glob("*.py")) - before
        assert [path.name for path in new] == [f"{head + 1:04d}_nothing_yet.py"]
    finally:
        for path in set(versions.glob("*.py")) - before:
            path.unlink()

"""Migrations run forwards and backwards, and match the models exactly."""

import subprocess
import sys
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url
from sqlalchemy_utils import create_database, drop_database

from .support.database_state import SERVICE_TABLES
from .support.run import alembic
from scripts.processes import PROJECT_ROOT


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
        [sys.executable, "-m", "{{ cookiecutter.package_name }}.prestart"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )

    assert "database is up and migrated" in completed.stderr


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

"""Migrations run forwards and backwards, and match the models exactly."""

import pytest
from sqlalchemy import create_engine, inspect

from {{ cookiecutter.package_name }}.applied_revisions import APPLIED_REVISIONS

from .support.database_state import SERVICE_TABLES
from .support.environment import PROJECT_ROOT
from .support.processes import alembic

# The migration tool's own: the heads, and every applied revision (applied_revisions.py).
MIGRATION_TABLES = {"alembic_version", APPLIED_REVISIONS.name}


def tables(database_url: str) -> set[str]:
    engine = create_engine(database_url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade_round_trip(empty_database: str) -> None:
    alembic("upgrade", "head")
    assert tables(empty_database) == SERVICE_TABLES | MIGRATION_TABLES

    alembic("downgrade", "base")
    assert tables(empty_database) <= MIGRATION_TABLES

    alembic("upgrade", "head")
    assert tables(empty_database) == SERVICE_TABLES | MIGRATION_TABLES


def test_models_and_migrations_do_not_drift(empty_database: str) -> None:
    alembic("upgrade", "head")

    check = alembic("check")

    assert "No new upgrade operations detected" in check.stdout + check.stderr


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

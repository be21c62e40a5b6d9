"""prestart: a version starts once its heads are applied, and migrates on a cluster's terms."""

import time
from pathlib import Path

import pytest
from alembic.runtime.migration import MigrationContext
from sqlalchemy import column, select, table
from sqlalchemy.engine import make_url

from .support.database_state import observer
from .support.environment import PROJECT_ROOT
from .support.other_versions import (
    head,
    next_version,
    prestart,
    previous_version,
    waiting_for_migrations,
)
from .support.processes import alembic
from .support.waiting import TIMEOUT


def schema_heads(database_url: str) -> set[str]:
    with observer(make_url(database_url)) as connection:
        return set(MigrationContext.configure(connection).get_current_heads())


@pytest.mark.usefixtures("database_url")
def test_prestart_says_the_database_is_up_and_migrated() -> None:
    completed = prestart(PROJECT_ROOT)

    assert completed.returncode == 0, completed.stderr
    assert "database is up and migrated" in completed.stderr


def test_the_previous_version_starts_at_once_on_a_newer_schema(
    empty_database: str, tmp_path: Path
) -> None:
    alembic("upgrade", "head")
    previous = previous_version(tmp_path)

    started = prestart(previous, "--wait-for-migrations", "5")

    assert started.returncode == 0, started.stderr
    assert "waiting for the migrations" not in started.stderr
    assert "the schema has this code's heads applied" in started.stderr


def test_a_newer_version_waits_for_its_migrations_then_fails_naming_both_sides(
    empty_database: str, tmp_path: Path
) -> None:
    alembic("upgrade", "head")
    schema_head = head()
    newer = next_version(tmp_path, upgrade="pass")
    code_head = head(newer)

    impatient = prestart(newer, "--wait-for-migrations", "1")
    assert impatient.returncode != 0
    assert f"the schema is at ['{schema_head}']" in impatient.stderr
    assert f"this code's heads ['{code_head}']" in impatient.stderr

    waiting = waiting_for_migrations(newer, TIMEOUT)
    try:
        time.sleep(1)
        assert waiting.poll() is None, "it went on before its heads were applied"
        assert prestart(newer).returncode == 0
        output, _ = waiting.communicate(timeout=TIMEOUT)
    finally:
        waiting.kill()
    assert waiting.returncode == 0, output
    assert "the schema has this code's heads applied" in output


def test_a_migration_step_longer_than_the_statement_timeout_completes(
    empty_database: str, database_server: str, tmp_path: Path
) -> None:
    alembic("upgrade", "head")
    sleep = {"postgresql": "SELECT pg_sleep(2)", "mysql": "SELECT SLEEP(2)"}[database_server]
    newer = next_version(tmp_path, upgrade=f"op.execute({sleep!r})")

    completed = prestart(newer, env={"DB_STATEMENT_TIMEOUT": "1"})

    assert completed.returncode == 0, completed.stderr
    assert schema_heads(empty_database) == {head(newer)}


def test_a_migration_that_cannot_get_its_lock_fails_within_the_lock_timeout(
    empty_database: str, database_server: str, tmp_path: Path
) -> None:
    alembic("upgrade", "head")
    before = head()
    newer = next_version(
        tmp_path,
        upgrade='op.add_column("users", sa.Column("nickname", sa.String(50)))',
        downgrade='op.drop_column("users", "nickname")',
    )

    with observer(make_url(empty_database)) as other_transaction:
        # Reading the table holds a lock on it until the transaction ends,
        # which no ALTER TABLE can share.
        other_transaction.execute(select(column("id")).select_from(table("users")))
        started = time.monotonic()
        completed = prestart(newer, env={"MIGRATION_LOCK_TIMEOUT": "1"}, timeout=20)
        took = time.monotonic() - started

    assert completed.returncode != 0
    assert "MIGRATION_LOCK_TIMEOUT (1s)" in completed.stderr, completed.stderr
    assert f"the schema stays at ['{before}']" in completed.stderr
    assert schema_heads(empty_database) == {before}
    print(f"failed after {took:.1f}s, the process's start included")

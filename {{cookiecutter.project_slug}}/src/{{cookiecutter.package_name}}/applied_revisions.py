"""Which revisions the schema has applied: what lets an older version start on a newer schema.

``alembic_version`` holds only the heads. Code that lacks the newest revisions
(the version a rollback returns to, or the old pods a rollout still starts)
cannot tell from them whether its own heads are applied. So every migration
also keeps ``alembic_applied_revisions``: ``record``, the ``on_version_apply``
callback of ``migrations/env.py``, rewrites it after each step, in the step's
transaction, as the heads and all their ancestors; ``applied`` reads it.
"""

from collections.abc import Collection, Mapping
from typing import Any

from alembic.runtime.migration import MigrationContext, MigrationInfo
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Connection, MetaData, String, Table, delete, insert, inspect, select
from sqlalchemy.schema import CreateTable

# The migration tool's own table, as alembic_version is: not one of the
# service's models (env.py keeps autogenerate away from it).
APPLIED_REVISIONS = Table(
    "alembic_applied_revisions",
    MetaData(),
    Column("revision", String(32), primary_key=True),  # as wide as alembic_version's
)


def create_if_missing(context: MigrationContext) -> None:
    """Create the table, as Alembic creates its version table, before any step runs.

    Not in a revision of its own: the steps before that revision, a downgrade
    below it and ``alembic stamp`` would all have nowhere to write. A database
    migrated before the table existed gets its whole history at its next step.
    """
    context.execute(CreateTable(APPLIED_REVISIONS, if_not_exists=True))


def record(
    ctx: MigrationContext, step: MigrationInfo, heads: Collection[Any], run_args: Mapping[str, Any]
) -> None:
    """After a step, up or down, or a stamp: the heads it left and every ancestor.

    Rewritten whole, not by the step's own revision: a stamp moves over many
    revisions at once, and a downgrade must take away exactly what it undid.
    """
    if ctx.script is None:  # only Alembic's commands run steps, always with their scripts
        return
    revisions = with_ancestors(ctx.script, set(heads))
    ctx.execute(delete(APPLIED_REVISIONS))
    if revisions:
        rows = [{"revision": revision} for revision in sorted(revisions)]
        ctx.execute(insert(APPLIED_REVISIONS).values(rows))


def applied(connection: Connection, script: ScriptDirectory) -> set[str]:
    """The revisions applied to the schema, as far as this code's ``script`` can tell."""
    current = set(MigrationContext.configure(connection).get_current_heads())
    known = {revision.revision for revision in script.walk_revisions()}
    if current <= known:
        # This code knows the heads, hence their ancestors: this holds too for
        # a database migrated before the table existed.
        return with_ancestors(script, current)
    if not inspect(connection).has_table(APPLIED_REVISIONS.name):
        return set()
    return set(connection.scalars(select(APPLIED_REVISIONS.c.revision)))


def with_ancestors(script: ScriptDirectory, heads: set[str]) -> set[str]:
    if not heads:
        return set()
    return {revision.revision for revision in script.iterate_revisions(tuple(heads), "base")}

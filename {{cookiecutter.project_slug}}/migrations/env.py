"""Alembic environment: the URL comes from settings, the schema from models."""

import logging
from logging.config import fileConfig
from typing import Any

from alembic import context
from alembic.operations.ops import MigrationScript
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

from {{ cookiecutter.package_name }} import applied_revisions
from {{ cookiecutter.package_name }}.config import settings
from {{ cookiecutter.package_name }}.database.driver import prepare_migration
from {{ cookiecutter.package_name }}.db import direct_engine
{%- if cookiecutter.web != 'none' %}
from {{ cookiecutter.package_name }}.idempotency_keys import IdempotencyKey  # noqa: F401
{%- endif %}
from {{ cookiecutter.package_name }}.models import Base
from {{ cookiecutter.package_name }}.outbox import model as outbox_model  # noqa: F401
from {{ cookiecutter.package_name }}.worker import task_records  # noqa: F401

config = context.config
# alembic.ini's logging is for the alembic command line; a program that runs
# the migrations with logging of its own (prestart) keeps it.
if config.config_file_name is not None and not logging.getLogger().handlers:
    fileConfig(config.config_file_name, disable_existing_loggers=False)

# Every model module must be imported above, or autogenerate proposes
# dropping the tables it cannot see.
target_metadata = Base.metadata


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def number_new_revisions(_: MigrationContext, __: Any, directives: list[MigrationScript]) -> None:
    """Name a new revision like the ones before it: the head's number plus one."""
    head = ScriptDirectory.from_config(config).get_current_head()
    if head is not None and head.isdigit():
        directives[0].rev_id = f"{int(head) + 1:04d}"


def service_tables_only(name: str | None, type_: str, _: Any) -> bool:
    """Autogenerate compares the service's tables, not the migration tool's record."""
    return not (type_ == "table" and name == applied_revisions.APPLIED_REVISIONS.name)


def run_migrations_offline() -> None:
    """Emit SQL to stdout (``alembic upgrade head --sql``) without connecting."""
    context.configure(
        url=settings.direct_database_url,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        include_name=service_tables_only,
        render_as_batch=is_sqlite(settings.direct_database_url),
        process_revision_directives=number_new_revisions,
        on_version_apply=applied_revisions.record,
    )
    with context.begin_transaction():
        applied_revisions.create_if_missing(context.get_context())
        context.run_migrations()


def run_migrations_online() -> None:
    """Migrate through the app's own engine settings, on the server itself.

    The migration's connection is the service's but for its timeouts: no
    DB_STATEMENT_TIMEOUT, and MIGRATION_LOCK_TIMEOUT (``database/driver.py``).
    ``direct_engine`` skips a transaction pooler, when there is one.
    """
    engine = direct_engine()
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                include_name=service_tables_only,
                # SQLite cannot ALTER most things in place; batch mode copies the table.
                render_as_batch=is_sqlite(settings.direct_database_url),
                process_revision_directives=number_new_revisions,
                on_version_apply=applied_revisions.record,
            )
            with context.begin_transaction():
                prepare_migration(connection)
                applied_revisions.create_if_missing(context.get_context())
                context.run_migrations()
    finally:
        # Nothing else gets the migration's connection, with its timeouts.
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

"""Wait for the database, then migrate it, before any worker starts (``make migrate``).

With ``--wait-for-migrations`` it migrates nothing: it waits until this code's
heads are applied (``applied_revisions.py``), newer revisions or not. Run
before each app process, it keeps a new version from starting on an older
schema, and lets an older one (a rollback, the old pods of a rollout) start
at once on a newer schema, which expand/contract migrations keep fit for it
(docs/deploy.md).
"""

import argparse
import logging
import time
from collections.abc import Sequence

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.exc import DBAPIError

from . import applied_revisions
from .config import settings
from .database.driver import lock_timed_out
from .db import direct_engine, engine, wait_for_database

logger = logging.getLogger(__name__)

# Run from the project root, as the Makefile does.
ALEMBIC_INI = "alembic.ini"
POLL_EVERY = 2.0
# Its name as run, which __name__ is not under ``python -m`` ("__main__").
COMMAND = f"python -m {__package__}.prestart"


def current_heads() -> set[str]:
    with engine.connect() as connection:
        return set(MigrationContext.configure(connection).get_current_heads())


def wait_for_migrations(config: Config, timeout: float) -> None:
    script = ScriptDirectory.from_config(config)
    heads = set(script.get_heads())
    deadline = time.monotonic() + timeout
    while True:
        with engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
            missing = heads - applied_revisions.applied(connection, script)
        if not missing:
            return
        if time.monotonic() >= deadline:
            raise SystemExit(
                f"the schema is at {sorted(current) or 'no revision'}, which has not applied"
                f" {sorted(missing)} of this code's heads {sorted(heads)}: run the migrations"
                f" ({COMMAND})"
            )
        logger.info("waiting for the migrations: schema at %s, code at %s", current, heads)
        time.sleep(POLL_EVERY)


def migrate(config: Config) -> None:
    """``alembic upgrade head``; a step that waited too long for its lock says how to retry."""
    try:
        command.upgrade(config, "head")
    except DBAPIError as error:
        if not lock_timed_out(error):
            raise
        raise SystemExit(
            f"a migration waited MIGRATION_LOCK_TIMEOUT ({settings.migration_lock_timeout}s)"
            f" for a lock another transaction holds ({error.orig}), and gave up; the schema"
            f" stays at {sorted(current_heads()) or 'no revision'}. Run {COMMAND} again once"
            " that transaction has ended (docs/deploy.md, 'When a migration fails')"
        ) from error


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__)
    parser.add_argument(
        "--wait-for-migrations",
        type=float,
        metavar="SECONDS",
        help="migrate nothing; wait up to SECONDS until this code's heads are applied",
    )
    options = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    if options.wait_for_migrations is not None:
        # Through DATABASE_URL, as the process it runs before will connect.
        wait_for_database()
        wait_for_migrations(Config(ALEMBIC_INI), options.wait_for_migrations)
        logger.info("the schema has this code's heads applied")
        return
    # On the server itself, where the migrations run (settings.direct_database_url).
    direct = direct_engine()
    try:
        wait_for_database(direct)
    finally:
        direct.dispose()
    migrate(Config(ALEMBIC_INI))
    logger.info("database is up and migrated")


if __name__ == "__main__":
    main()

"""Wait for the database, then migrate it, before any worker starts (``make migrate``).

With ``--wait-for-migrations`` it migrates nothing: it waits until someone
else (a deploy's migration Job) has brought the schema to this code's head.
Run before each app process of a new version, it keeps that version from
starting on an older schema, however the rollout orders things.
"""

import argparse
import logging
import time
from collections.abc import Sequence

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from .db import engine, wait_for_database

logger = logging.getLogger(__name__)

# Run from the project root, as the Makefile does.
ALEMBIC_INI = "alembic.ini"
POLL_EVERY = 2.0


def revisions(config: Config) -> tuple[set[str], set[str]]:
    """The schema's revisions, and this code's heads."""
    with engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    return current, set(ScriptDirectory.from_config(config).get_heads())


def wait_for_migrations(config: Config, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        current, heads = revisions(config)
        if current == heads:
            return
        if time.monotonic() >= deadline:
            raise SystemExit(
                f"the schema is at {sorted(current) or 'no revision'}, this code needs"
                f" {sorted(heads)}: run the migrations (python -m {__name__})"
            )
        logger.info("waiting for the migrations: schema at %s, code at %s", current, heads)
        time.sleep(POLL_EVERY)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=f"python -m {__name__}", description=__doc__)
    parser.add_argument(
        "--wait-for-migrations",
        type=float,
        metavar="SECONDS",
        help="migrate nothing; wait up to SECONDS for the schema to reach this code's head",
    )
    options = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    wait_for_database()
    if options.wait_for_migrations is not None:
        wait_for_migrations(Config(ALEMBIC_INI), options.wait_for_migrations)
        logger.info("the schema is at this code's head")
        return
    command.upgrade(Config(ALEMBIC_INI), "head")
    logger.info("database is up and migrated")


if __name__ == "__main__":
    main()

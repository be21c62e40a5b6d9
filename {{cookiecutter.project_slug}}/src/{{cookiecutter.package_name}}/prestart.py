"""Wait for the database, then migrate it, before any worker starts (``make migrate``)."""

import logging

from alembic import command
from alembic.config import Config

from .db import wait_for_database

logger = logging.getLogger(__name__)

# Run from the project root, as the Makefile does.
ALEMBIC_INI = "alembic.ini"


def main() -> None:
    logging.basicConfig(level=logging.INFO)
    wait_for_database()
    command.upgrade(Config(ALEMBIC_INI), "head")
    logger.info("database is up and migrated")


if __name__ == "__main__":
    main()

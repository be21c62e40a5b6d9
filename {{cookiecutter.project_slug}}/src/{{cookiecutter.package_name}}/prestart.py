"""Wait for the database, then migrate it: ``python -m {{ cookiecutter.package_name }}.prestart``.

Run once before workers start (``make migrate`` does), so no worker ever sees
a database that is missing or behind the code.
"""

import logging

from alembic import command
from alembic.config import Config

from .db import wait_for_database

logger = logging.getLogger(__name__)

# Relative to the working directory: run from the project root, as the
# Makefile does.
ALEMBIC_INI = "alembic.ini"


def main() -> None:
    logging.basicConfig(level=logging.INFO)
    wait_for_database()
    command.upgrade(Config(ALEMBIC_INI), "head")
    logger.info("database is up and migrated")


if __name__ == "__main__":
    main()

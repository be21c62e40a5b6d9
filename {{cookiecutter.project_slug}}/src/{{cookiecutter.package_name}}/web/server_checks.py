"""Does each server the service needs answer? For ``GET /health`` and probes."""

import logging

from sqlalchemy import text

from ..celery import app
from ..db import engine

logger = logging.getLogger(__name__)

# Seconds a health check waits for the broker before calling it unavailable.
BROKER_TIMEOUT = 3


def database_answers() -> bool:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:
        logger.warning("health check: the database did not answer", exc_info=True)
        return False
    return True


def broker_answers() -> bool:
    try:
        with app.connection_for_write() as connection:
            # One attempt, no retries: a probe must answer fast either way.
            connection.ensure_connection(max_retries=0, timeout=BROKER_TIMEOUT)
    except Exception:
        logger.warning("health check: the broker did not answer", exc_info=True)
        return False
    return True


def service_checks() -> dict[str, str]:
    """``{"database": "ok", "broker": "unavailable"}``: each server and its state."""
    checks = {"database": database_answers(), "broker": broker_answers()}
    return {name: "ok" if ok else "unavailable" for name, ok in checks.items()}

"""Does each server the service needs answer? For ``GET /health``: people and dashboards.

No probe asks this: readiness (``GET /health/ready``) checks no shared server,
so a database or broker blip does not take every pod out of the Service at
once (docs/deploy.md, "Readiness and /health").
"""

import logging
import os

from sqlalchemy import text

from ..celery import app
from ..config import settings
from ..database.engine import build_engine

logger = logging.getLogger(__name__)

# Seconds each check waits for its server before calling it unavailable:
# /health answers within about twice this, however busy the requests are.
CHECK_TIMEOUT = 2

# A pool of its own, of one connection: the check never queues behind the
# requests holding the request pool (and its 30 s pool timeout).
check_engine = build_engine(
    settings.database_url, pool_size=1, max_overflow=0, pool_timeout=CHECK_TIMEOUT
)
# A child forked after the import (a server preloading the app) starts with a pool of its own.
os.register_at_fork(after_in_child=lambda: check_engine.dispose(close=False))


def database_answers() -> bool:
    try:
        with check_engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:
        logger.warning("health check: the database did not answer", exc_info=True)
        return False
    return True


def broker_answers() -> bool:
    try:
        with app.connection_for_write() as connection:
            # One attempt, no retries: /health must answer fast either way.
            connection.ensure_connection(max_retries=0, timeout=CHECK_TIMEOUT)
    except Exception:
        logger.warning("health check: the broker did not answer", exc_info=True)
        return False
    return True


def service_checks() -> dict[str, str]:
    """``{"database": "ok", "broker": "unavailable"}``: each server and its state."""
    checks = {"database": database_answers(), "broker": broker_answers()}
    return {name: "ok" if ok else "unavailable" for name, ok in checks.items()}

"""The database's part in a worker's life, for any task on any base class.

Connected by ``signals.py``, which ``celery.py`` calls, so a worker that loads
only its owner's tasks gets it too.
"""

from typing import Any

from ..config import settings
from ..db import end_session, engine, wait_for_database


def check_database_before_consuming(sender: Any, **_: Any) -> None:
    """Refuse to start a worker the database cannot serve (SystemExit stops the start)."""
    # A prefork child runs one task at a time; the threads pool one per thread.
    threads = sender.concurrency if "thread" in str(sender.pool_cls).lower() else 1
    connections = settings.db_pool_size + settings.db_max_overflow
    if threads > connections:
        raise SystemExit(
            f"the worker runs {threads} threads, but a process may open only {connections}"
            f" database connections (DB_POOL_SIZE={settings.db_pool_size}"
            f" + DB_MAX_OVERFLOW={settings.db_max_overflow}); raise DB_POOL_SIZE to {threads}"
        )
    try:
        wait_for_database()
    except Exception as error:
        raise SystemExit(f"the database did not answer: {error}") from error


def end_the_attempts_session(**_: Any) -> None:
    """End the session after every attempt, retries included (``after_return`` skips them)."""
    end_session()


def close_connections_on_exit(**_: Any) -> None:
    end_session()
    engine.dispose()

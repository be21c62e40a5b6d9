"""The engine and ``db_session``, the thread-local session registry: one per process.

Nothing connects at import, and every forked child starts with a pool of its
own, so a prefork worker's parent can import this before it forks.
"""

import logging
import os

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, scoped_session, sessionmaker
from tenacity import before_sleep_log, retry, stop_after_delay, wait_fixed

from .config import settings
from .database.driver import read_without_transaction
from .database.engine import build_engine

logger = logging.getLogger(__name__)

engine = build_engine(settings.database_url)
# expire_on_commit=False: a task (or a request) can read attributes after it commits.
session_factory = sessionmaker(bind=engine, autoflush=False, expire_on_commit=False)
db_session = scoped_session(session_factory)


def direct_engine() -> Engine:
    """An engine on ``settings.direct_database_url``, the server itself: for the migrations.

    Also for what else must outlive a transaction, which a pooler in front of
    the server would not let it. The app's own ``engine`` when that URL is
    DATABASE_URL; the caller disposes of it.
    """
    if settings.direct_database_url == settings.database_url:
        return engine
    return build_engine(settings.direct_database_url, pool_size=1, max_overflow=0)


def read_in_autocommit(session: Session | scoped_session[Session] = db_session) -> None:
    """Before the first statement: read without BEGIN and ROLLBACK, one round trip each.

    What ``SqlAlchemyTask`` runs before the body of a task marked ``read_only=True``.
    Statements share no snapshot. Only where the driver saves by it (``database/driver.py``).
    """
    read_without_transaction(session.connection())


def end_session() -> None:
    """End this thread's session, whatever its state; discard a connection that cannot roll back."""
    if not db_session.registry.has():
        return
    session = db_session()
    try:
        # Held now: once close() has failed, the session no longer knows it.
        connection = session.connection() if session.in_transaction() else None
    except Exception:  # e.g. a commit that failed halfway
        connection = None
    try:
        session.close()
    except Exception:
        logger.warning("could not return the session's connection; discarding it", exc_info=True)
        if connection is not None:
            connection.invalidate()
    finally:
        db_session.registry.clear()


def forget_inherited_pool() -> None:
    """In a forked child: drop the parent's connections without closing its sockets."""
    db_session.registry.clear()
    engine.dispose(close=False)


# Whoever forks: Celery's prefork pool, billiard, multiprocessing.
os.register_at_fork(after_in_child=forget_inherited_pool)


@retry(
    stop=stop_after_delay(settings.db_wait_timeout),
    wait=wait_fixed(1),
    before_sleep=before_sleep_log(logger, logging.WARNING),
    reraise=True,
)
def wait_for_database(through: Engine = engine) -> None:
    """Return once the database answers; give up with its error after DB_WAIT_TIMEOUT."""
    with through.connect() as connection:
        connection.execute(text("SELECT 1"))

"""The engine and the thread-local session registry, created once per process.

Nothing connects at import: the engine opens connections on first use, so a
prefork worker's parent can import this module before it forks. Each child then
drops the inherited pool (see ``tasks.reset_pool_after_fork``).
"""

import logging
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import scoped_session, sessionmaker
from tenacity import before_sleep_log, retry, stop_after_delay, wait_fixed

from .config import settings

logger = logging.getLogger(__name__)


def engine_options(database_url: str) -> dict[str, Any]:
    """Pool settings that fit the database behind ``database_url``."""
    if make_url(database_url).get_backend_name() == "sqlite":
        # SQLite has no server and no network: no pool sizing or pre-ping.
        # Wait for another process's write lock instead of failing at once.
        return {"connect_args": {"timeout": 30}}
    return {
        # Test each connection as it leaves the pool, so one dropped by the
        # server (restart, failover, idle timeout) is replaced, not handed out.
        "pool_pre_ping": True,
        "pool_size": settings.db_pool_size,
        "max_overflow": settings.db_max_overflow,
        "pool_recycle": settings.db_pool_recycle,
    }


def use_real_sqlite_transactions(sqlite_engine: Engine) -> None:
    """Make SQLite transactions real, as on a server database.

    By default the sqlite3 driver begins a transaction only before a write, so a
    task's reads are not isolated and a session left open holds no lock that
    anyone could notice. This recipe from the SQLAlchemy SQLite docs emits
    BEGIN when the session begins.
    """

    @event.listens_for(sqlite_engine, "connect")
    def _driver_leaves_transactions_to_us(dbapi_connection: Any, _: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(sqlite_engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN")


engine = create_engine(settings.database_url, **engine_options(settings.database_url))
if engine.dialect.name == "sqlite":
    use_real_sqlite_transactions(engine)

# One session per thread: concurrent tasks on the threads pool never share one.
# expire_on_commit=False lets a task read attributes after it commits.
db_session = scoped_session(sessionmaker(bind=engine, autoflush=False, expire_on_commit=False))


@retry(
    stop=stop_after_delay(60),
    wait=wait_fixed(1),
    before_sleep=before_sleep_log(logger, logging.WARNING),
    reraise=True,
)
def wait_for_database() -> None:
    """Return once the database answers; give up with its error after a minute."""
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))

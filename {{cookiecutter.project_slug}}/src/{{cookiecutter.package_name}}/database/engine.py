"""The service's engine: pool and timeouts per database, and every listener it needs."""

from typing import Any

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url

from ..config import settings
from . import driver
from .connection_checks import (
    discard_closed_connections,
    discard_interrupted_connections,
    roll_back_only_open_transactions,
)
from .sqlite import use_real_sqlite_transactions


def build_engine(database_url: str, **pool: Any) -> Engine:
    """Create the engine; nothing connects until it is first used.

    ``pool`` overrides the pool's size and timeouts (``pool_size=1``, ...).
    """
    # An error names its statement, not the values bound to it: they may be a
    # person's data, and errors go to the logs and to error tracking.
    engine = create_engine(database_url, hide_parameters=True, **engine_options(database_url, pool))
    discard_interrupted_connections(engine)
    if engine.dialect.name == "sqlite":
        use_real_sqlite_transactions(engine)
        return engine
    discard_closed_connections(engine)
    roll_back_only_open_transactions(engine)
    driver.prepare_engine(engine)
    return engine


def engine_options(database_url: str, pool: dict[str, Any] | None = None) -> dict[str, Any]:
    url = make_url(database_url)
    pool_size = {"pool_size": settings.db_pool_size, "max_overflow": settings.db_max_overflow}
    pool_size |= pool or {}
    if url.get_backend_name() == "sqlite":
        # Wait up to 30 s for another process's write lock instead of failing.
        options: dict[str, Any] = {"connect_args": {"timeout": 30}}
        if url.database not in (None, "", ":memory:"):  # a memory database has no pool size
            options |= pool_size
        return options
    # No pool_pre_ping and no reset on return: connection_checks does both
    # without their round trips.
    return {
        **pool_size,
        "pool_reset_on_return": None,
        "pool_recycle": settings.db_pool_recycle,
        "connect_args": driver.connect_args(url),
    }

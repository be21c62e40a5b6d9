"""The service's engine: pool and timeouts per database, and every listener it needs."""

from typing import Any

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL, make_url

from ..config import settings
from .connection_checks import (
    discard_closed_connections,
    discard_interrupted_connections,
    roll_back_only_open_transactions,
)
from .dialects import (
    end_postgresql_autocommit_on_return,
    limit_mysql_statement_time,
    use_real_sqlite_transactions,
)


def build_engine(database_url: str) -> Engine:
    """Create the engine; nothing connects until it is first used."""
    engine = create_engine(database_url, **engine_options(database_url))
    discard_interrupted_connections(engine)
    if engine.dialect.name == "sqlite":
        use_real_sqlite_transactions(engine)
        return engine
    if engine.dialect.name in ("mysql", "mariadb") and settings.db_statement_timeout:
        limit_mysql_statement_time(engine)
    discard_closed_connections(engine)
    roll_back_only_open_transactions(engine)
    if engine.dialect.name == "postgresql":
        end_postgresql_autocommit_on_return(engine)
    return engine


def engine_options(database_url: str) -> dict[str, Any]:
    url = make_url(database_url)
    pool_size = {"pool_size": settings.db_pool_size, "max_overflow": settings.db_max_overflow}
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
        "connect_args": connect_args(url),
    }


def connect_args(url: URL) -> dict[str, Any]:
    args: dict[str, Any] = {"connect_timeout": settings.db_connect_timeout}
    if url.get_backend_name() == "postgresql" and settings.db_statement_timeout:
        milliseconds = round(settings.db_statement_timeout * 1000)
        args["options"] = f"-c statement_timeout={milliseconds}"
    return args

"""What PostgreSQL accepts, read from the server, and what the relay adds on it."""

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

# The relay LISTENs for commit notices on a connection of its own
# (outbox/wakeup.py), always to the server itself.
RELAY_LISTEN_CONNECTIONS = 1

# SHOW's values, by current_setting(): its second argument makes a setting
# this server lacks NULL (reserved_connections came in PostgreSQL 16), where
# SHOW would fail.
LIMITS = text(
    "SELECT current_setting('max_connections')::int,"
    " current_setting('superuser_reserved_connections')::int,"
    " coalesce(current_setting('reserved_connections', true)::int, 0)"
)


def server_limits(database_url: str) -> tuple[int, int]:
    """(max_connections, superuser_reserved_connections + reserved_connections)."""
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            maximum, superuser, reserved = connection.execute(LIMITS).one()
    finally:
        engine.dispose()
    return int(maximum), int(superuser) + int(reserved)

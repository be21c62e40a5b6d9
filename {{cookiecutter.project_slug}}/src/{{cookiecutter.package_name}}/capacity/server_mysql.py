"""What the MySQL or MariaDB server accepts, read from it; the relay adds nothing there."""

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

# The relay passes on the clock here: no connection of its own waits for notices.
RELAY_LISTEN_CONNECTIONS = 0


def server_limits(database_url: str) -> tuple[int, int]:
    """(max_connections, 0): the one extra connection the server keeps is for admins, beyond it."""
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            _, maximum = connection.execute(text("SHOW VARIABLES LIKE 'max_connections'")).one()
    finally:
        engine.dispose()
    return int(maximum), 0

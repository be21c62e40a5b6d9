"""The floor: the same read on a bare DBAPI connection, with no SQLAlchemy at all.

Used twice: in-process (``bench.inprocess``, the ``driver`` path) and inside a
plain Celery task (``bench.tasks.driver_read``), so the benchmark shows what
one round trip costs without the ORM, in microseconds and in throughput.
"""

import threading
from typing import Any

from sqlalchemy.engine import make_url

QUERY = "SELECT id, name, email FROM users WHERE id = %s"


def connect(database_url: str) -> Any:
    """A DBAPI connection in autocommit: one round trip per query, as ``get_from_db``."""
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        import psycopg

        return psycopg.connect(
            host=url.host,
            port=url.port or 5432,
            user=url.username,
            password=url.password,
            dbname=url.database,
            autocommit=True,
        )
    import pymysql

    return pymysql.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 3306,
        user=url.username or "root",
        password=url.password or "",
        database=url.database,
        autocommit=True,
    )


def read_user(connection: Any, user_id: int) -> tuple[Any, ...]:
    with connection.cursor() as cursor:
        cursor.execute(QUERY, (user_id,))
        row: tuple[Any, ...] = cursor.fetchone()
        return row


class PerThread(threading.local):
    """One connection per worker thread (or prefork child), opened on first use."""

    connection: Any = None

    def get(self, database_url: str) -> Any:
        if self.connection is None:
            self.connection = connect(database_url)
        return self.connection

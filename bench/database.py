"""The benchmark's own database: created, migrated and seeded for one run, then dropped.

It lives on the server in ``DATABASE_URL`` (or in a SQLite file under
``var/bench``) under a name of its own, so a run never touches the service's
data and two runs never share tables.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

from my_service.models import User
from sqlalchemy import create_engine, insert
from sqlalchemy.engine import make_url
from sqlalchemy_utils import create_database, database_exists, drop_database

from .server_state import open_connections

# The baked project the benchmark measures: it runs from that project's root.
PROJECT_ROOT = Path.cwd()
SEED_BATCH = 5_000


def bench_database_url(server_url: str, run_id: str, folder: Path) -> str:
    """A new database beside the one in ``server_url``, or a new SQLite file."""
    url = make_url(server_url)
    if url.get_backend_name() == "sqlite":
        url = url.set(database=str(folder / f"bench-{run_id}.sqlite3"))
    else:
        url = url.set(database=f"{url.database}_bench_{run_id}")
    return url.render_as_string(hide_password=False)


def create_and_migrate(database_url: str) -> None:
    """Create the database, then ``alembic upgrade head`` in a subprocess, as a user would."""
    create_database(database_url)
    subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=PROJECT_ROOT,
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        check=True,
    )


def seed_users(database_url: str, count: int) -> None:
    """Insert users 1..count, in a few multi-row inserts."""
    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            for start in range(1, count + 1, SEED_BATCH):
                stop = min(start + SEED_BATCH, count + 1)
                connection.execute(
                    insert(User),
                    [
                        {"id": i, "name": f"user {i}", "email": f"user{i}@example.com"}
                        for i in range(start, stop)
                    ],
                )
    finally:
        engine.dispose()


def drop(database_url: str, wait: float = 10) -> None:
    """Drop the database once the stopped workers' connections are gone."""
    deadline = time.monotonic() + wait
    while (open_connections(database_url) or 0) > 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    if database_exists(database_url):
        drop_database(database_url)

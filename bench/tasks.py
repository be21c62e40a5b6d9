"""The benchmark's own tasks, on the service's own app.

They travel the same way as ``get_from_db`` (same broker, result backend,
serializer, acks and worker), so the gaps between them are what the database
work and the session handling cost:

- ``noop``, the ceiling: a task that does nothing;
- ``driver_read``, the floor for one round trip: ``get_from_db``'s read on a
  bare DBAPI connection (one per worker process or thread), no SQLAlchemy;
- ``rename_user`` and ``rename_user_once``, one write as most tasks write it
  (committed by the body) and the same write with ``once=True`` (committed
  with the message's record): what ``once`` costs (``bench.once``).
"""

import time
from typing import Any

from my_service.celery import app
from my_service.config import settings
from my_service.db import db_session
from my_service.models import User
from my_service.worker.sqlalchemy_task import SqlAlchemyTask
from sqlalchemy import update

from .driver import PerThread, read_user

connections = PerThread()


@app.task
def noop(user_id: int) -> int:
    """Return the argument untouched: the cheapest task this app can run."""
    return user_id


@app.task
def driver_read(user_id: int) -> dict[str, Any]:
    """Read the user as ``get_from_db`` does, straight through the driver."""
    user_id, name, email = read_user(connections.get(settings.database_url), user_id)
    return {"id": user_id, "name": name, "email": email}


def rename(user_id: int) -> None:
    # A new name each time: a server may skip the write (and its flush at
    # COMMIT) of a row an UPDATE leaves as it was.
    name = f"user {user_id} {time.monotonic_ns()}"
    db_session.execute(update(User).where(User.id == user_id).values(name=name))


@app.task(base=SqlAlchemyTask)
def rename_user(user_id: int) -> int:
    """Set the user's name and commit."""
    rename(user_id)
    db_session.commit()
    return user_id


@app.task(base=SqlAlchemyTask, once=True)
def rename_user_once(user_id: int) -> int:
    """Set the user's name; the plumbing commits it with the message's record."""
    rename(user_id)
    return user_id

"""The benchmark's own tasks, on the service's own app.

They travel the same way as ``get_from_db`` (same broker, result backend,
serializer, acks and worker), so the gaps between them are what the database
work and the session handling cost:

- ``noop``, the ceiling: a task that does nothing;
- ``driver_read``, the floor for one round trip: ``get_from_db``'s read on a
  bare DBAPI connection (one per worker process or thread), no SQLAlchemy.
"""

from typing import Any

from my_service.celery import app
from my_service.config import settings

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

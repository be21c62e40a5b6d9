"""The ceiling: a task that does nothing, on the service's own app.

It travels the same way as ``get_from_db`` (same broker, result backend,
serializer, acks and worker), so the gap between the two is what the database
work and the session handling cost.
"""

from my_service.celery import app


@app.task
def noop(user_id: int) -> int:
    """Return the argument untouched: the cheapest task this app can run."""
    return user_id

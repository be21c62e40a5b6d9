"""A task module as an owner writes it: ``db_session`` on a base class of its own.

What keeps its sessions and connections safe must come from the app and the
engine alone.
"""

from celery import Task

from {{ cookiecutter.package_name }}.celery import app
from {{ cookiecutter.package_name }}.db import db_session

from .records import Record


class OwnBaseTask(Task):  # type: ignore[type-arg]
    """The owner's base class, which knows nothing of sessions."""


@app.task(base=OwnBaseTask)
def record_name(record_id: int) -> str:
    return db_session.get_one(Record, record_id).name

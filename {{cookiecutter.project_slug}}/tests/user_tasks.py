"""A task module as a service's owner writes it once the samples are gone.

It uses the app and ``db_session``, on a base class of its own, and imports
nothing from the sample ``tasks`` module: what keeps its sessions and its
connections safe must come from the app and the engine alone.
"""

from celery import Task

from {{ cookiecutter.package_name }}.celery import app
from {{ cookiecutter.package_name }}.db import db_session
from {{ cookiecutter.package_name }}.models import User


class OwnBaseTask(Task):  # type: ignore[type-arg]
    """The owner's base class, which knows nothing of sessions."""


@app.task(base=OwnBaseTask)
def user_email(user_id: int) -> str:
    return db_session.get_one(User, user_id).email

"""Periodic tasks, sent on schedule by ``celery -A {{ cookiecutter.package_name }}.celery beat``; a worker runs them."""

from celery.utils.log import get_task_logger
from sqlalchemy import func, select

from .celery import app
from .config import settings
from .db import db_session
from .models import User
from .worker.sqlalchemy_task import SqlAlchemyTask

logger = get_task_logger(__name__)


@app.task(base=SqlAlchemyTask)
def count_users() -> int:
    """Log and return how many users exist: a read-only sample to build on."""
    total = db_session.execute(select(func.count()).select_from(User)).scalar_one()
    logger.info("%d users", total)
    return total


app.add_periodic_task(settings.count_users_every, count_users.s(), name="count users")

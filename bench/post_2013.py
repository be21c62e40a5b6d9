"""The baseline: "Using SQLAlchemy with Celery Tasks" (2013), as the post wrote it.

Kept deliberately old, so the benchmark can show what the service's own
pattern costs or saves beside it. Only what SQLAlchemy 2 no longer accepts is
changed: ``convert_unicode`` is gone, and ``query(...).filter(...).one()`` is
written as ``select(...).where(...)`` with ``scalar_one()``. Deliberately old:

- the engine is created at import with the post's options (``pool_size=10``,
  ``pool_recycle=3600``, SQLAlchemy's default ``max_overflow`` of 10), no
  ``pool_pre_ping``, and nothing disposes its pool after the worker forks;
- ``db_session`` is a ``scoped_session`` removed only in ``after_return``,
  which Celery skips for retries;
- ``get_from_db`` retries on ``NoResultFound`` with the post's decorator
  (``max_retries=10, default_retry_delay=60``) and calls ``retry`` on the
  module-level task, as the post did, instead of a bound ``self``.

It reads the same ``users`` table as the service, from the database in
``DATABASE_URL``.
"""

from typing import Any

from celery import Task
from my_service.celery import app
from my_service.config import settings
from my_service.models import User
from sqlalchemy import create_engine, select
from sqlalchemy.exc import NoResultFound
from sqlalchemy.orm import scoped_session, sessionmaker

POOL_SIZE = 10
# The post did not set max_overflow; SQLAlchemy's default applies. Named here
# only so the benchmark can say how many connections this pool may open.
MAX_OVERFLOW = 10

engine = create_engine(settings.database_url, pool_recycle=3600, pool_size=POOL_SIZE)
db_session = scoped_session(sessionmaker(autocommit=False, autoflush=False, bind=engine))


class SqlAlchemyTask(Task):  # type: ignore[type-arg]
    """An abstract Celery Task that ensures that the connection the the
    database is closed on task completion"""

    abstract = True

    def after_return(
        self,
        status: str,
        retval: Any,
        task_id: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        einfo: Any,
    ) -> None:
        db_session.remove()


@app.task(base=SqlAlchemyTask, max_retries=10, default_retry_delay=60)
def get_from_db(user_id: int) -> dict[str, Any]:
    try:
        user = db_session.execute(select(User).where(User.id == user_id)).scalar_one()
    except NoResultFound as exc:
        raise get_from_db.retry(exc=exc) from exc
    # do something with the user: here, return what the service's task returns
    return {"id": user.id, "name": user.name, "email": user.email}

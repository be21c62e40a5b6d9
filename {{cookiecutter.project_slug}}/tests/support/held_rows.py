"""Rows held by a transaction of the test's own, so that the requests needing them wait.

A sign-up (``POST /users``) whose email another open transaction has inserted
waits on the unique index until that transaction ends: a slow request made
of real code, holding its pooled connection for as long as the test likes.
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import insert, text
from sqlalchemy.engine import make_url

from {{ cookiecutter.package_name }}.models import User

from .database_state import observer


@contextmanager
def held_emails(database_url: str, emails: Sequence[str]) -> Iterator[None]:
    """Users with these emails, inserted and not committed; rolled back at the end."""
    with observer(make_url(database_url)) as connection:
        transaction = connection.begin()
        connection.execute(insert(User), [{"name": "held", "email": email} for email in emails])
        try:
            yield
        finally:
            transaction.rollback()


def lock_waiters(database_url: str) -> int:
    """Connections to this database waiting for a lock another transaction holds."""
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        query = text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = :db AND wait_event_type = 'Lock'"
        )
    else:
        query = text(
            "SELECT count(*) FROM information_schema.innodb_trx trx"
            " JOIN information_schema.processlist p ON p.id = trx.trx_mysql_thread_id"
            " WHERE p.db = :db AND trx.trx_state = 'LOCK WAIT'"
        )
    with observer(url) as connection:
        return int(connection.execute(query, {"db": url.database}).scalar_one())

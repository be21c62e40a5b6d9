"""Deleting a table's old rows in batches: the relay's housekeeping of the service's tables."""

from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

# Rows deleted per transaction: each batch holds its locks briefly.
PURGE_BATCH = 1000


def purge_older_than(
    engine: Engine,
    key: InstrumentedAttribute[Any],
    created_at: InstrumentedAttribute[Any],
    retention: float,
    batch: int = PURGE_BATCH,
) -> int:
    """Delete the rows whose ``created_at`` is over ``retention`` seconds old; return how many.

    Each batch is read, then deleted by ``key`` in a transaction of its own:
    not every database can DELETE with a LIMIT, and short transactions keep
    the writers of the table waiting little. The cutoff is the database's
    clock, which wrote ``created_at``.
    """
    table = key.class_
    purged = 0
    while True:
        with Session(engine) as session:
            cutoff = session.execute(select(func.now())).scalar_one() - timedelta(seconds=retention)
            keys = session.scalars(select(key).where(created_at < cutoff).limit(batch)).all()
        if not keys:
            return purged
        with Session(engine) as session, session.begin():
            session.execute(
                delete(table).where(key.in_(keys)).execution_options(synchronize_session=False)
            )
        purged += len(keys)
        if len(keys) < batch:
            return purged

"""A table of the tests' own, so the plumbing's tests need none of the sample models.

It is created beside the migrated schema for the run, not by a migration:
the service never has it.
"""

from sqlalchemy import MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, scoped_session


class RecordBase(DeclarativeBase):
    metadata = MetaData()


class Record(RecordBase):
    __tablename__ = "test_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))


def add_record(
    session: Session | scoped_session[Session], record_id: int, name: str = "before"
) -> None:
    """Commit a record."""
    session.add(Record(id=record_id, name=name))
    session.commit()

"""Every migration keeps the record of the applied revisions, whichever way it goes."""

from sqlalchemy import select
from sqlalchemy.engine import make_url

from {{ cookiecutter.package_name }}.applied_revisions import APPLIED_REVISIONS

from .support.database_state import observer
from .support.other_versions import script_directory
from .support.processes import alembic


def recorded(database_url: str) -> set[str]:
    with observer(make_url(database_url)) as connection:
        return set(connection.scalars(select(APPLIED_REVISIONS.c.revision)))


def test_a_downgrade_takes_away_from_the_record_what_it_undid(empty_database: str) -> None:
    revisions = [script.revision for script in script_directory().walk_revisions()]  # newest first
    alembic("upgrade", "head")
    assert recorded(empty_database) == set(revisions)

    alembic("downgrade", "-1")
    assert recorded(empty_database) == set(revisions[1:])

    alembic("downgrade", "base")
    assert recorded(empty_database) == set()


def test_a_stamp_records_the_revisions_it_says_are_applied(empty_database: str) -> None:
    revisions = [script.revision for script in script_directory().walk_revisions()]
    alembic("stamp", revisions[1])

    assert recorded(empty_database) == set(revisions[1:])

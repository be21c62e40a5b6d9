"""The sample periodic task: scheduled for beat, run by a real worker."""

import pytest
from sqlalchemy.orm import Session, scoped_session

from {{ cookiecutter.package_name }}.celery import app
from {{ cookiecutter.package_name }}.models import User
from {{ cookiecutter.package_name }}.periodic import count_users


def test_count_users_is_on_the_beat_schedule() -> None:
    scheduled = {entry["task"] for entry in app.conf.beat_schedule.values()}

    assert count_users.name in scheduled


@pytest.mark.usefixtures("worker")
def test_count_users_runs_on_a_worker(session: scoped_session[Session]) -> None:
    session.add_all(User(name=f"u{i}", email=f"u{i}@example.com") for i in range(3))
    session.commit()

    assert count_users.delay().get(timeout=60) == 3

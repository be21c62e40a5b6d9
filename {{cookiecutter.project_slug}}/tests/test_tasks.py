"""The sample tasks, run by a real worker through the real broker."""

import pytest
from sqlalchemy.exc import NoResultFound
from sqlalchemy.orm import Session, scoped_session

from {{ cookiecutter.package_name }}.config import settings
from {{ cookiecutter.package_name }}.tasks import create_user, get_from_db

from .conftest import add_user, has_retried, wait_until
from .database_state import busy_connections
from .worker_process import WorkerProcess

pytestmark = pytest.mark.usefixtures("worker")

TIMEOUT = 60


def test_get_from_db_returns_the_users_data(session: scoped_session[Session]) -> None:
    add_user(session, 1, "Ada Lovelace")

    result = get_from_db.delay(1)

    assert result.get(timeout=TIMEOUT) == {
        "id": 1,
        "name": "Ada Lovelace",
        "email": "user1@example.com",
    }
    assert result.retries == 0


def test_retries_until_the_row_is_committed(
    session: scoped_session[Session], worker: WorkerProcess
) -> None:
    result = get_from_db.delay(2)
    wait_until(has_retried(worker, result.id), "the worker to look and retry")
    add_user(session, 2, "Grace Hopper")

    assert result.get(timeout=TIMEOUT)["name"] == "Grace Hopper"
    assert result.retries is not None
    assert 1 <= result.retries < settings.task_max_retries


def test_gives_up_with_no_result_found_after_max_retries() -> None:
    result = get_from_db.delay(999_999)

    with pytest.raises(NoResultFound):
        result.get(timeout=TIMEOUT)
    assert result.retries == settings.task_max_retries


@pytest.mark.parametrize("bad_id", [0, -5, "7", 1.5, None, True])
def test_bad_ids_fail_at_once_without_retries(bad_id: object) -> None:
    result = get_from_db.delay(bad_id)

    with pytest.raises(ValueError, match="positive integer"):
        result.get(timeout=TIMEOUT)
    assert result.retries == 0


def test_finished_tasks_leave_no_transaction_open(
    session: scoped_session[Session], database_url: str
) -> None:
    for user_id in range(10, 20):
        add_user(session, user_id)
    session.remove()
    results = [get_from_db.delay(user_id) for user_id in range(10, 20)]
    results.append(get_from_db.delay(-1))
    for result in results:
        result.get(timeout=TIMEOUT, propagate=False)

    assert busy_connections(database_url) == 0


def test_a_database_error_does_not_poison_the_next_task(
    session: scoped_session[Session], worker: WorkerProcess
) -> None:
    add_user(session, 30)
    session.remove()
    # Enough failures at once that every pool process gets some.
    duplicates = [create_user.delay("Copy", "user30@example.com") for _ in range(6)]
    for result in duplicates:
        # The client cannot rebuild an IntegrityError; the type name comes through.
        with pytest.raises(Exception, match="IntegrityError"):
            result.get(timeout=TIMEOUT)
        assert result.retries == 0

    reads = [get_from_db.delay(30) for _ in range(6)]

    assert [r.get(timeout=TIMEOUT)["id"] for r in reads] == [30] * 6
    assert "PendingRollbackError" not in worker.log()


@pytest.mark.usefixtures("session")
def test_create_user_commits_a_row_the_next_task_can_read() -> None:
    user_id = create_user.delay("Alan Turing", "alan@example.com").get(timeout=TIMEOUT)

    assert get_from_db.delay(user_id).get(timeout=TIMEOUT)["email"] == "alan@example.com"

"""The sample tasks, ``get_from_db`` and ``create_user``, run by a real worker."""

import pytest
from sqlalchemy import select
from sqlalchemy.exc import NoResultFound
from sqlalchemy.orm import Session, scoped_session

from {{ cookiecutter.package_name }}.config import settings
from {{ cookiecutter.package_name }}.models import User
from {{ cookiecutter.package_name }}.tasks import (
    SqlAlchemyTask,
    create_user,
    get_from_db,
    require_positive_int,
)

from .support.database_state import busy_connections
from .support.environment import queue_of
from .support.tcp_proxy import TcpProxy
from .support.waiting import TIMEOUT, wait_until
from .support.workers import ChildProcess, has_retried, own_worker


def add_user(session: scoped_session[Session], user_id: int, name: str = "Ada") -> None:
    session.add(User(id=user_id, name=name, email=f"user{user_id}@example.com"))
    session.commit()


@pytest.mark.parametrize("value", [1, 42, 2**40])
def test_positive_ints_are_user_ids(value: int) -> None:
    assert require_positive_int(value, "user_id") == value


@pytest.mark.parametrize("value", [0, -1, True, "1", 1.0, None, [1]])
def test_anything_else_is_not_a_user_id(value: object) -> None:
    with pytest.raises(ValueError, match="user_id must be a positive integer"):
        require_positive_int(value, "user_id")


def test_the_tasks_run_on_the_session_cleaning_base_class() -> None:
    assert isinstance(get_from_db, SqlAlchemyTask)
    assert isinstance(create_user, SqlAlchemyTask)


@pytest.mark.usefixtures("worker")
def test_get_from_db_returns_the_users_data(session: scoped_session[Session]) -> None:
    add_user(session, 1, "Ada Lovelace")

    result = get_from_db.delay(1)

    assert result.get(timeout=TIMEOUT) == {
        "id": 1,
        "name": "Ada Lovelace",
        "email": "user1@example.com",
    }
    assert result.retries == 0


def test_get_from_db_retries_until_the_row_is_committed(
    session: scoped_session[Session], worker: ChildProcess
) -> None:
    result = get_from_db.delay(2)
    wait_until(has_retried(worker, result.id), "the worker to look and retry")
    add_user(session, 2, "Grace Hopper")

    assert result.get(timeout=TIMEOUT)["name"] == "Grace Hopper"
    assert result.retries is not None
    assert 1 <= result.retries < settings.task_max_retries


@pytest.mark.usefixtures("worker")
def test_get_from_db_gives_up_with_no_result_found_after_max_retries() -> None:
    result = get_from_db.delay(999_999)

    with pytest.raises(NoResultFound):
        result.get(timeout=TIMEOUT)
    assert result.retries == settings.task_max_retries


@pytest.mark.usefixtures("worker")
@pytest.mark.parametrize("bad_id", [0, -5, "7", 1.5, None, True])
def test_bad_ids_fail_at_once_without_retries(bad_id: object) -> None:
    result = get_from_db.delay(bad_id)

    with pytest.raises(ValueError, match="positive integer"):
        result.get(timeout=TIMEOUT)
    assert result.retries == 0


@pytest.mark.usefixtures("worker")
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


# get_from_db's round trips, counted on the wire: on PostgreSQL the SELECT
# alone, in autocommit (read_only=True); on MySQL/MariaDB the SELECT, then
# the ROLLBACK that ends its snapshot.
GET_FROM_DB_ROUND_TRIPS = {"postgresql": 1, "mysql": 2}


@pytest.mark.usefixtures("broker")
def test_get_from_db_costs_only_the_round_trips_of_its_read(
    session: scoped_session[Session],
    database_url: str,
    database_server: str,
    database_proxy: TcpProxy,
) -> None:
    add_user(session, 90)
    session.remove()
    env = {"DATABASE_URL": database_proxy.url_through(database_url)}
    # One process, so every task reuses the one pooled connection.
    with own_worker("get-from-db-round-trips", concurrency=1, env=env):
        queue = queue_of("get-from-db-round-trips")

        def read() -> None:
            assert get_from_db.apply_async((90,), queue=queue).get(timeout=TIMEOUT)["id"] == 90

        counted = database_proxy.round_trips_per_call(read)

    assert counted == GET_FROM_DB_ROUND_TRIPS[database_server]


def test_a_duplicate_email_does_not_poison_the_next_task(
    session: scoped_session[Session], worker: ChildProcess
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


@pytest.mark.usefixtures("worker", "session")
def test_create_user_commits_a_row_the_next_task_can_read() -> None:
    user_id = create_user.delay("Alan Turing", "alan@example.com").get(timeout=TIMEOUT)

    assert get_from_db.delay(user_id).get(timeout=TIMEOUT)["email"] == "alan@example.com"


@pytest.mark.usefixtures("worker")
def test_create_user_run_twice_returns_the_same_id(session: scoped_session[Session]) -> None:
    first = create_user.delay("Grace", "grace@example.com").get(timeout=TIMEOUT)
    again = create_user.delay("Grace", "grace@example.com").get(timeout=TIMEOUT)
    other = create_user.delay("Someone else", "grace@example.com")

    assert again == first
    with pytest.raises(Exception, match="IntegrityError"):
        other.get(timeout=TIMEOUT)
    assert other.retries == 0


@pytest.mark.usefixtures("broker")
def test_create_user_after_an_ambiguous_commit_returns_the_user_it_made(
    session: scoped_session[Session], database_url: str, database_proxy: TcpProxy
) -> None:
    env = {"DATABASE_URL": database_proxy.url_through(database_url)}
    with own_worker("ambiguous", env=env) as worker:
        # The server receives COMMIT and commits; the task never hears it did.
        database_proxy.cut_once_after(b"COMMIT")
        result = create_user.apply_async(("Ken", "ken@example.com"), queue=queue_of("ambiguous"))
        user_id = result.get(timeout=TIMEOUT)
        log = worker.log()

    assert database_proxy.cuts == 1
    assert "Signal handler" not in log, "the session was ended without an error"
    assert result.retries == 1
    users = session.execute(select(User).where(User.email == "ken@example.com")).scalars().all()
    assert [(user.id, user.name) for user in users] == [(user_id, "Ken")]


@pytest.mark.usefixtures("worker", "session", "database_server")
def test_a_name_too_long_fails_at_once_with_data_error() -> None:
    result = create_user.delay("x" * 101, "long@example.com")

    with pytest.raises(Exception, match="DataError"):
        result.get(timeout=TIMEOUT)
    assert result.retries == 0

"""A worker refuses to start when the database cannot serve it, and says why."""

import pytest
from sqlalchemy.engine import make_url

from {{ cookiecutter.package_name }}.config import settings

from ..support.environment import TMP_DIR, queue_of
from ..support.probe_tasks import hold_session
from ..support.waiting import TIMEOUT
from ..support.workers import ProcessFailed, own_worker

THREADS = 16


def unreachable(database_url: str) -> str:
    """The same kind of database, somewhere nothing answers."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return url.set(database=str(TMP_DIR / "no-such-folder" / "app.sqlite3")).render_as_string()
    return url.set(host="127.0.0.1", port=1).render_as_string(hide_password=False)


@pytest.mark.usefixtures("broker")
def test_a_worker_whose_database_never_answers_does_not_start(database_url: str) -> None:
    env = {"DATABASE_URL": unreachable(database_url), "DB_WAIT_TIMEOUT": "1"}

    with pytest.raises(ProcessFailed, match="the database did not answer"):  # noqa: SIM117
        with own_worker("no-database", env=env):
            pass


@pytest.mark.usefixtures("broker")
def test_a_thread_pool_larger_than_the_connection_pool_is_refused() -> None:
    assert settings.db_pool_size + settings.db_max_overflow < THREADS

    with pytest.raises(ProcessFailed, match=f"raise DB_POOL_SIZE to {THREADS}"):  # noqa: SIM117
        with own_worker("threads-too-many", pool="threads", concurrency=THREADS):
            pass


@pytest.mark.usefixtures("broker")
def test_a_thread_pool_with_a_connection_each_runs_them_all_at_once() -> None:
    env = {"DB_POOL_SIZE": str(THREADS)}

    with own_worker("threads", pool="threads", concurrency=THREADS, env=env):
        results = [
            hold_session.apply_async((1.0,), queue=queue_of("threads")) for _ in range(THREADS)
        ]
        uses = [result.get(timeout=TIMEOUT) for result in results]

    # Sixteen sessions, each on a connection of its own, none kept waiting.
    assert len({use["connection"] for use in uses}) == THREADS
    assert all(result.retries == 0 for result in results)

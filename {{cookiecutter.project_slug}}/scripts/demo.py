"""Show the service's tasks at work with a real worker: ``make demo`` runs this.

The Makefile points every URL at SQLite files (embedded mode), so no server is
needed; the worker is a real ``celery worker`` process with a prefork pool.
"""

from pathlib import Path

from celery.result import AsyncResult
from sqlalchemy import func, select

from {{ cookiecutter.package_name }}.db import db_session
from {{ cookiecutter.package_name }}.models import User
from {{ cookiecutter.package_name }}.tasks import get_from_db

from .processes import ChildProcess, running_worker, worker_command

LOG = Path("var/demo/worker.log")


def add_user(name: str, email: str, user_id: int | None = None) -> int:
    user = User(id=user_id, name=name, email=email)
    db_session.add(user)
    db_session.commit()
    return user.id


def next_free_id() -> int:
    return (db_session.execute(select(func.max(User.id))).scalar() or 0) + 1


def wait(result: AsyncResult) -> object:  # type: ignore[type-arg]
    return result.get(timeout=60, propagate=False)


def wait_for_first_retry(result: AsyncResult, worker: ChildProcess) -> None:  # type: ignore[type-arg]
    worker.wait_until(lambda: f"[{result.id}] retry" in worker.log(), "the first retry", 60)


def expect(condition: bool, failure: str) -> None:
    if not condition:
        raise SystemExit(f"demo failed: {failure} (worker log: {LOG})")


def main() -> None:
    print(f"Starting a real worker (prefork pool, 2 processes); its log: {LOG}")
    with running_worker(LOG, worker_command(node_name="demo")) as worker:
        ada = add_user("Ada Lovelace", "ada@example.com")
        result = get_from_db.delay(ada)
        value = wait(result)
        expect(result.successful() and result.retries == 0, f"first read gave {value!r}")
        print(f"1. User {ada} was committed, then get_from_db({ada}) was sent.")
        print(f"   The worker returned {value} on its first try.")

        late_id = next_free_id()
        db_session.remove()
        result = get_from_db.delay(late_id)
        print(f"2. get_from_db({late_id}) was sent before user {late_id} existed.")
        wait_for_first_retry(result, worker)
        add_user("Grace Hopper", "grace@example.com", user_id=late_id)
        print(f"   User {late_id} was committed after the worker had looked and not found it.")
        value = wait(result)
        expect(result.successful() and (result.retries or 0) >= 1, f"late read gave {value!r}")
        print(f"   The worker retried {result.retries} time(s) with backoff,")
        print(f"   then returned {value}.")

        result = get_from_db.delay(-1)
        error = wait(result)
        expect(isinstance(error, ValueError) and result.retries == 0, f"bad id gave {error!r}")
        print(f"3. get_from_db(-1) failed at once with {error!r}")
        print("   after 0 retries: input that cannot become valid is never retried.")

        user = User(name="Edsger Dijkstra", email="edsger@example.com")
        db_session.add(user)
        db_session.flush()  # gives the id; the transaction is still open
        edsger = user.id
        result = get_from_db.delay_on_commit(edsger)
        # A task sent after it went through the worker, which takes its queue in
        # order: had ours been sent already, the worker would have received it.
        wait(get_from_db.delay(ada))
        expect(f"[{result.id}] received" not in worker.log(), "it was sent before the commit")
        db_session.commit()
        value = wait(result)
        expect(result.successful() and result.retries == 0, f"after-commit read gave {value!r}")
        print(f"4. get_from_db.delay_on_commit({edsger}) was called inside the transaction")
        print("   that created the user; the worker had not received it before the commit")
        print("   (a task sent later had already run); it was sent when that transaction")
        print(f"   committed, and the worker returned {value} on its first try.")
    print("The worker has stopped.")


if __name__ == "__main__":
    main()

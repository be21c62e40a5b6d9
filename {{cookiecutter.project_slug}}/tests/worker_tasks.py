"""Tasks only the tests need. Test workers load them with ``--include``.

They use the app and ``SqlAlchemyTask`` exactly as the service's own tasks do,
so what they observe about sessions and delivery holds for those too.
"""

import logging
import os
import threading
import time
from pathlib import Path
from typing import TypedDict

from sqlalchemy import text

from {{ cookiecutter.package_name }}.celery import app
from {{ cookiecutter.package_name }}.db import db_session
from {{ cookiecutter.package_name }}.models import User
from {{ cookiecutter.package_name }}.tasks import SqlAlchemyTask

# How the server names the connection a session is using.
CONNECTION_ID_QUERIES = {
    "postgresql": "SELECT pg_backend_pid()",
    "mysql": "SELECT CONNECTION_ID()",
    "mariadb": "SELECT CONNECTION_ID()",
}


class SessionUse(TypedDict):
    process: int
    thread: int
    session: int
    connection: str
    started: float
    finished: float


@app.task(base=SqlAlchemyTask)
def hold_session(seconds: float) -> SessionUse:
    """Keep a transaction open for ``seconds``; report whose session it was."""
    started = time.time()
    session = db_session()
    dialect = session.get_bind().dialect.name
    if dialect in CONNECTION_ID_QUERIES:
        connection = str(session.execute(text(CONNECTION_ID_QUERIES[dialect])).scalar_one())
    else:
        # SQLite has no server-side id; the driver connection's identity will do.
        session.execute(text("SELECT 1"))
        connection = f"{os.getpid()}:{id(session.connection().connection.dbapi_connection)}"
    time.sleep(seconds)
    return {
        "process": os.getpid(),
        "thread": threading.get_ident(),
        "session": id(session),
        "connection": connection,
        "started": started,
        "finished": time.time(),
    }


@app.task(base=SqlAlchemyTask, bind=True)
def report_leftover_session(
    self: SqlAlchemyTask, outcome: str, seen: list[bool] | None = None
) -> list[bool]:
    """Say, for each attempt, whether a session was left over from the last one.

    Each attempt opens a transaction, then ends as ``outcome`` says: "succeed",
    "fail", or "retry" (once, then succeed). The result lists, per attempt,
    whether this thread already had a session when the attempt began.
    """
    seen = [*(seen or []), db_session.registry.has()]
    db_session.execute(text("SELECT 1"))
    if outcome == "fail":
        raise RuntimeError("failing on purpose, with a transaction open")
    if outcome == "retry" and len(seen) == 1:
        raise self.retry(kwargs={"outcome": outcome, "seen": seen}, countdown=0)
    return seen


@app.task(base=SqlAlchemyTask)
def rename_slowly(user_id: int, name: str, seconds: float, journal: str) -> str:
    """Rename a user after ``seconds``, noting each start and finish in ``journal``.

    Idempotent, as every task under late acknowledgement must be: it sets the
    name to a value, so running it again after a crash changes nothing.
    """
    user = db_session.get_one(User, user_id)
    # Noted once the transaction holds a connection, so a test that cuts
    # connections on this note is sure to cut this task's.
    note(journal, f"start {os.getpid()}")
    time.sleep(seconds)
    user.name = name
    db_session.commit()
    note(journal, f"done {os.getpid()}")
    return name


def note(journal: str, line: str) -> None:
    with Path(journal).open("a") as file:
        file.write(line + "\n")


def journal_lines(journal: Path, kind: str) -> list[str]:
    if not journal.exists():
        return []
    return [line for line in journal.read_text().splitlines() if line.startswith(kind)]


@app.task
def log_at_each_level(text: str) -> None:
    """Log ``text`` at DEBUG and WARNING through a plain ``logging`` logger."""
    plain = logging.getLogger("tests.plain_logger")
    plain.debug("debug: %s", text)
    plain.warning("warning: %s", text)

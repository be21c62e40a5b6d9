"""Tasks only the tests need, loaded by every test worker (``--include``).

They use the app, ``db_session`` and ``SqlAlchemyTask`` as any task of the
service does, on a table of the tests' own: what they show holds for any task.
"""

import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TypedDict

from celery.exceptions import Ignore, Reject, SoftTimeLimitExceeded
from sqlalchemy import text
from sqlalchemy.exc import NoResultFound

from {{ cookiecutter.package_name }}.celery import app
from {{ cookiecutter.package_name }}.database.after_commit import call_after_commit
from {{ cookiecutter.package_name }}.db import db_session
from {{ cookiecutter.package_name }}.worker.sqlalchemy_task import SqlAlchemyTask

from .records import Record

# How the server names the connection a session is using.
CONNECTION_ID_QUERIES = {
    "postgresql": "SELECT pg_backend_pid()",
    "mysql": "SELECT CONNECTION_ID()",
    "mariadb": "SELECT CONNECTION_ID()",
}


class RecordData(TypedDict):
    id: int
    name: str


@app.task(base=SqlAlchemyTask, bind=True, read_only=True)
def read_record(self: SqlAlchemyTask, record_id: int) -> RecordData:
    """Read one row (in autocommit on PostgreSQL: ``read_only``), retrying until it exists."""
    record = db_session.get(Record, record_id)
    if record is None:
        raise self.retry(exc=NoResultFound(f"no record with id {record_id}"))
    return {"id": record.id, "name": record.name}


@app.task(base=SqlAlchemyTask)
def insert_record(name: str) -> int:
    record = Record(name=name)
    db_session.add(record)
    db_session.commit()
    return record.id


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


class Leftover(TypedDict):
    process: int
    had_session: bool


@app.task
def report_leftover() -> Leftover:
    """Say which process runs this, and whether a session was left in its thread."""
    return {"process": os.getpid(), "had_session": db_session.registry.has()}


# How each database sleeps inside a statement; SQLite cannot (its statements
# run in C, out of reach of signals), so it sleeps in Python, transaction open.
SLEEP_QUERIES = {
    "postgresql": "SELECT pg_sleep(:seconds)",
    "mysql": "SELECT SLEEP(:seconds)",
    "mariadb": "SELECT SLEEP(:seconds)",
}


def sleep_in_a_statement(seconds: float) -> None:
    dialect = db_session.get_bind().dialect.name
    db_session.execute(text("SELECT 1"))  # the transaction and its connection
    if dialect in SLEEP_QUERIES:
        db_session.execute(text(SLEEP_QUERIES[dialect]), {"seconds": seconds})
    else:
        time.sleep(seconds)


@app.task(base=SqlAlchemyTask, bind=True)
def end_attempt(self: SqlAlchemyTask, outcome: str, seconds: float = 0) -> str:
    """Open a transaction, then end the attempt as ``outcome`` says.

    "succeed", "fail", "retry" (once), "ignore", "reject", "replace",
    "unpublishable_retry" (a retry whose message cannot be encoded, which Celery
    turns into a Reject), "sleep" (``seconds`` inside a statement, for a soft
    time limit to interrupt), or "hang" (ignore the soft time limit and keep a
    transaction open, as code stuck in a C call would, until the hard limit).
    """
    db_session.execute(text("SELECT 1"))
    if outcome == "fail":
        raise RuntimeError("failing on purpose, with a transaction open")
    if outcome == "retry" and self.request.retries == 0:
        raise self.retry(countdown=0)
    if outcome == "ignore":
        raise Ignore()
    if outcome == "reject":
        raise Reject("rejecting on purpose", requeue=False)
    if outcome == "replace":
        raise self.replace(report_leftover.s())
    if outcome == "unpublishable_retry":
        raise self.retry(args=(object(),), countdown=0)
    if outcome == "sleep":
        sleep_in_a_statement(seconds)
    if outcome == "hang":
        try:
            time.sleep(seconds)
        except SoftTimeLimitExceeded:
            db_session.execute(text("SELECT 1"))
            time.sleep(seconds)
    return outcome


@app.task(base=SqlAlchemyTask)
def run_statement(statement: str) -> None:
    """Run one SQL statement: for errors the database raises on its own."""
    db_session.execute(text(statement))


@app.task(base=SqlAlchemyTask)
def rename_both(first: int, second: int, name: str, journal: str, wait: float) -> str:
    """Rename two records, in the order given, meeting another task in between.

    Two of these with the records in opposite order deadlock on a server: each
    holds one row and waits for the other's. Each reads before it writes, as
    most tasks do, which on SQLite makes the later writer fail at once with
    "database is locked" instead of waiting. Each waits at most ``wait``
    seconds for the other to lock its first row.
    """
    note(journal, f"attempt {first}")
    db_session.get_one(Record, first).name = name
    db_session.flush()
    note(journal, f"locked {first}")
    deadline = time.monotonic() + wait
    while not journal_lines(Path(journal), f"locked {second}") and time.monotonic() < deadline:
        time.sleep(0.05)
    db_session.get_one(Record, second).name = name
    db_session.commit()
    return name


@app.task(base=SqlAlchemyTask)
def rename_slowly(record_id: int, name: str, seconds: float, journal: str) -> str:
    """Rename a record after ``seconds``, noting each start and finish in ``journal``.

    Idempotent, as every task under late acknowledgement must be: it sets the
    name to a value, so running it again after a crash changes nothing.
    """
    record = db_session.get_one(Record, record_id)
    # Noted once the transaction holds a connection, so a test that cuts
    # connections on this note is sure to cut this task's.
    note(journal, f"start {os.getpid()}")
    time.sleep(seconds)
    record.name = name
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
def die_while(flag: str, journal: str) -> str:
    """Kill this task's own process, as the OOM killer would, while ``flag`` exists."""
    note(journal, f"start {os.getpid()}")
    if Path(flag).exists():
        os.kill(os.getpid(), signal.SIGKILL)
    note(journal, f"done {os.getpid()}")
    return "survived"


@app.task
def die_with_worker_while(flag: str, journal: str) -> str:
    """Kill this task's whole worker, main process included, while ``flag`` exists."""
    note(journal, f"start {os.getpid()}")
    if Path(flag).exists():
        # The worker leads its process group (scripts/processes.py).
        os.killpg(os.getpgid(0), signal.SIGKILL)
    return "survived"


@app.task
def log_at_each_level(text: str) -> None:
    """Log ``text`` at DEBUG and WARNING through a plain ``logging`` logger."""
    plain = logging.getLogger("tests.plain_logger")
    plain.debug("debug: %s", text)
    plain.warning("warning: %s", text)


class Inserted(TypedDict):
    id: int
    process: int


def insert_and_report(name: str) -> Inserted:
    record = Record(name=name)
    db_session.add(record)
    db_session.flush()  # gives record.id
    return {"id": record.id, "process": os.getpid()}


@app.task(base=SqlAlchemyTask, once=True)
def once_insert_then_die(name: str, flag: str, journal: str) -> Inserted:
    """Insert a record; while ``flag`` exists, kill this process right after the COMMIT.

    The flag goes with the first kill: the redelivery, if the body ran again,
    would live.
    """
    note(journal, f"start {os.getpid()}")
    inserted = insert_and_report(name)
    if Path(flag).exists():

        def die() -> None:
            Path(flag).unlink()
            os.kill(os.getpid(), signal.SIGKILL)

        call_after_commit(db_session(), die)
    note(journal, f"returns {inserted['id']} {inserted['process']}")
    return inserted


@app.task(base=SqlAlchemyTask, once=True)
def once_insert_together(name: str, journal: str, together: int) -> Inserted:
    """Insert a record once ``together`` runs have started, so that they commit side by side."""
    note(journal, f"start {os.getpid()}")
    deadline = time.monotonic() + 20
    while len(journal_lines(Path(journal), "start")) < together and time.monotonic() < deadline:
        time.sleep(0.02)
    return insert_and_report(name)


@app.task(base=SqlAlchemyTask, bind=True, once=True)
def once_insert(self: SqlAlchemyTask, name: str, outcome: str = "return") -> object:
    """Insert a record named after the attempt, then end as ``outcome`` says.

    "return", "retry" (once), "fail", "commit" (which a once task must not),
    or "not_json" (return a set).
    """
    inserted = insert_and_report(f"{name} {self.request.retries}")
    if outcome == "retry" and self.request.retries == 0:
        raise self.retry(countdown=0)
    if outcome == "fail":
        raise RuntimeError("failing on purpose, with a record inserted")
    if outcome == "commit":
        db_session.commit()
    if outcome == "not_json":
        return {inserted["id"]}
    return inserted


@app.task
def has_imported(module: str) -> bool:
    """Whether the process that runs this has imported ``module``."""
    return module in sys.modules

"""The engine and the thread-local session registry, created once per process.

Nothing connects at import: the engine opens connections on first use, so a
prefork worker's parent can import this module before it forks. Whatever forks
this process, the child starts with a pool of its own (``forget_inherited_pool``).
"""

import logging
import os
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, ExceptionContext, make_url
from sqlalchemy.orm import Session, scoped_session, sessionmaker
from tenacity import before_sleep_log, retry, stop_after_delay, wait_fixed

from .config import settings
from .pooling import discard_closed_connections, roll_back_only_open_transactions

logger = logging.getLogger(__name__)


def engine_options(database_url: str) -> dict[str, Any]:
    """Pool and timeout settings that fit the database behind ``database_url``."""
    url = make_url(database_url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        # No server and no network. Wait this long for another process's
        # write lock instead of failing at once.
        options: dict[str, Any] = {"connect_args": {"timeout": 30}}
        if url.database not in (None, "", ":memory:"):
            # A file database gets a QueuePool sized like a server's; an
            # in-memory one lives in a single connection and has no pool size.
            options |= {
                "pool_size": settings.db_pool_size,
                "max_overflow": settings.db_max_overflow,
            }
        return options
    # No pool_pre_ping, and no ROLLBACK on return by the pool itself: the
    # listeners in pooling.py do both jobs without their round trips.
    return {
        "pool_reset_on_return": None,
        "pool_size": settings.db_pool_size,
        "max_overflow": settings.db_max_overflow,
        "pool_recycle": settings.db_pool_recycle,
        "connect_args": connect_args(url),
    }


def connect_args(url: URL) -> dict[str, Any]:
    """The driver's connect timeout, and PostgreSQL's statement timeout."""
    args: dict[str, Any] = {"connect_timeout": settings.db_connect_timeout}
    if url.get_backend_name() == "postgresql" and settings.db_statement_timeout:
        milliseconds = round(settings.db_statement_timeout * 1000)
        args["options"] = f"-c statement_timeout={milliseconds}"
    return args


def limit_mysql_statement_time(mysql_engine: Engine) -> None:
    """Have MariaDB or MySQL cancel statements longer than DB_STATEMENT_TIMEOUT.

    The two servers name the limit differently (MariaDB: max_statement_time in
    seconds, any statement; MySQL: max_execution_time in milliseconds, SELECT
    only), so it is set per connection once the server has said which it is.
    """

    @event.listens_for(mysql_engine, "connect")
    def _limit(dbapi_connection: Any, _: Any) -> None:
        seconds = settings.db_statement_timeout
        if "mariadb" in dbapi_connection.get_server_info().lower():
            statement = f"SET SESSION max_statement_time = {seconds:f}"
        else:
            statement = f"SET SESSION max_execution_time = {round(seconds * 1000)}"
        with dbapi_connection.cursor() as cursor:
            cursor.execute(statement)


def use_real_sqlite_transactions(sqlite_engine: Engine) -> None:
    """Make SQLite transactions real, as on a server database.

    By default the sqlite3 driver begins a transaction only before a write, so a
    task's reads are not isolated and a session left open holds no lock that
    anyone could notice. This recipe from the SQLAlchemy SQLite docs emits
    BEGIN when the session begins.
    """

    @event.listens_for(sqlite_engine, "connect")
    def _driver_leaves_transactions_to_us(dbapi_connection: Any, _: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(sqlite_engine, "begin")
    def _begin(connection: Any) -> None:
        # engine.execution_options(sqlite_begin="IMMEDIATE") takes the write
        # lock at once (the outbox relay does).
        mode = connection.get_execution_options().get("sqlite_begin", "")
        connection.exec_driver_sql(f"BEGIN {mode}")


def discard_interrupted_connections(any_engine: Engine) -> None:
    """Invalidate a connection whose statement was cut short by a foreign exception.

    A soft time limit (or any exception a signal handler raises) can stop the
    driver halfway through talking to the server: psycopg still counts the
    query as running, PyMySQL has unread replies on the socket. Rolling back
    over such a connection fails or, worse, reads the old reply as the new one.
    SQLAlchemy invalidates connections only for the driver's own disconnect
    errors, so this listener marks the rest as a disconnect of this one
    connection (not the whole pool).
    """

    @event.listens_for(any_engine, "handle_error")
    def _discard(context: ExceptionContext) -> None:
        if isinstance(context.original_exception, context.dialect.loaded_dbapi.Error):
            return  # the driver's own error: it knows its state
        if context.execution_context is None and context.statement is not None:
            return  # failed while preparing parameters: nothing reached the server
        context.is_disconnect = True
        context.invalidate_pool_on_disconnect = False


engine = create_engine(settings.database_url, **engine_options(settings.database_url))
if engine.dialect.name == "sqlite":
    use_real_sqlite_transactions(engine)
if engine.dialect.name in ("mysql", "mariadb") and settings.db_statement_timeout:
    limit_mysql_statement_time(engine)
discard_interrupted_connections(engine)
if engine.dialect.name != "sqlite":  # no network: nothing to save, nothing to drop
    discard_closed_connections(engine)
    roll_back_only_open_transactions(engine)

# expire_on_commit=False lets a task (or a request) read attributes after it commits.
session_factory = sessionmaker(bind=engine, autoflush=False, expire_on_commit=False)
# One session per thread: concurrent tasks on the threads pool never share one.
db_session = scoped_session(session_factory)


def read_in_autocommit(session: Session | scoped_session[Session] = db_session) -> None:
    """Let ``session`` read outside a transaction, one round trip per statement.

    For a task that only reads: no BEGIN before its statement and no ROLLBACK
    after. Each statement sees the latest committed data; two statements do not
    share a snapshot, so a task whose reads must agree with each other keeps
    its transaction. Call it before the session's first statement.

    Only on PostgreSQL, where psycopg switches autocommit without asking the
    server. MySQL/MariaDB would spend more round trips switching it on and off
    than the transaction costs, and SQLite has no network to save.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


def end_session() -> None:
    """End this thread's session and return its connection, whatever state it is in.

    Called after every task attempt (see ``celery.py``). A connection that
    cannot roll back cleanly (broken, or busy with a statement that was cut
    short) is invalidated: closed and never returned to the pool. Either way
    the registry is cleared, so the next task in this thread starts afresh.
    """
    if not db_session.registry.has():
        return
    session = db_session()
    try:
        # Held now: once close() has failed, the session no longer knows it.
        connection = session.connection() if session.in_transaction() else None
    except Exception:  # e.g. a commit that failed halfway: no SQL, no connection
        connection = None
    try:
        session.close()
    except Exception:
        logger.warning("could not return the session's connection; discarding it", exc_info=True)
        if connection is not None:
            connection.invalidate()
    finally:
        db_session.registry.clear()


def forget_inherited_pool() -> None:
    """Give a forked child a pool of its own.

    A child inherits its parent's pooled connections; two processes using one
    socket garble the protocol ("ResourceClosedError: This result object does
    not return rows", "Commands out of sync"). ``close=False`` forgets them
    without closing sockets the parent still owns (SQLAlchemy's advice for
    os.fork). Registered with ``os.register_at_fork``, it runs in every child
    whoever forks: Celery's prefork pool, billiard, multiprocessing.
    """
    db_session.registry.clear()
    engine.dispose(close=False)


os.register_at_fork(after_in_child=forget_inherited_pool)


@retry(
    stop=stop_after_delay(settings.db_wait_timeout),
    wait=wait_fixed(1),
    before_sleep=before_sleep_log(logger, logging.WARNING),
    reraise=True,
)
def wait_for_database() -> None:
    """Return once the database answers; give up with its error after DB_WAIT_TIMEOUT."""
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))

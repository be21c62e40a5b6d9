"""What PostgreSQL, SQLite and MySQL/MariaDB need set on each connection."""

from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlalchemy.pool import ConnectionPoolEntry, PoolResetState

from ..config import settings


def read_without_transaction(connection: Connection) -> None:
    """psycopg: no BEGIN before this connection's statements until it returns to the pool.

    The driver's own switch, where ``isolation_level="AUTOCOMMIT"`` would also
    set the isolation level, and reset both on return: four driver calls, not two.
    """
    driver: Any = connection.connection.driver_connection
    driver.autocommit = True


def end_postgresql_autocommit_on_return(engine: Engine) -> None:
    """Hand the next user a connection that begins transactions (``read_without_transaction``)."""

    @event.listens_for(engine, "reset")
    def _transactions_again(
        dbapi_connection: Any, _: ConnectionPoolEntry, __: PoolResetState
    ) -> None:
        if dbapi_connection.autocommit:
            dbapi_connection.autocommit = False


def limit_mysql_statement_time(engine: Engine) -> None:
    """Have the server cancel statements longer than DB_STATEMENT_TIMEOUT.

    MariaDB names the limit max_statement_time (seconds, any statement), MySQL
    max_execution_time (milliseconds, SELECT only): each connection asks which
    server it reached.
    """

    @event.listens_for(engine, "connect")
    def _limit(dbapi_connection: Any, _: Any) -> None:
        seconds = settings.db_statement_timeout
        if "mariadb" in dbapi_connection.get_server_info().lower():
            statement = f"SET SESSION max_statement_time = {seconds:f}"
        else:
            statement = f"SET SESSION max_execution_time = {round(seconds * 1000)}"
        with dbapi_connection.cursor() as cursor:
            cursor.execute(statement)


def use_real_sqlite_transactions(engine: Engine) -> None:
    """BEGIN when the session begins, not before the first write (SQLAlchemy's recipe).

    ``engine.execution_options(sqlite_begin="IMMEDIATE")`` takes the write lock
    at once.
    """

    @event.listens_for(engine, "connect")
    def _driver_leaves_transactions_to_us(dbapi_connection: Any, _: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "")
        connection.exec_driver_sql(f"BEGIN {mode}")

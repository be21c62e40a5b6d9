"""The engine's options for each kind of database."""

from {{ cookiecutter.package_name }}.config import settings
from {{ cookiecutter.package_name }}.database.engine import engine_options


def test_server_databases_get_a_sized_pool_and_timeouts() -> None:
    server = engine_options("postgresql+psycopg://app@db/app")
    # connection_checks does the ping's and the reset's work without their round trips.
    assert "pool_pre_ping" not in server
    assert server["pool_reset_on_return"] is None
    assert server["pool_size"] == settings.db_pool_size
    assert server["connect_args"]["connect_timeout"] == settings.db_connect_timeout
    milliseconds = round(settings.db_statement_timeout * 1000)
    assert server["connect_args"]["options"] == f"-c statement_timeout={milliseconds}"
    assert "options" not in engine_options("mysql+pymysql://app@db/app")["connect_args"]


def test_sqlite_files_get_a_sized_pool_and_memory_does_not() -> None:
    assert "pool_pre_ping" not in engine_options("sqlite:///app.sqlite3")
    assert "pool_size" in engine_options("sqlite:///app.sqlite3")
    assert "pool_size" not in engine_options("sqlite://")

"""What database/driver.py tells the engine and the pool's checks about psycopg's connections."""

import ssl
from types import SimpleNamespace

import pytest

from {{ cookiecutter.package_name }}.config import settings
from {{ cookiecutter.package_name }}.database.driver import in_transaction, plain_socket
from {{ cookiecutter.package_name }}.database.engine import engine_options


def test_the_server_gets_a_sized_pool_and_timeouts() -> None:
    server = engine_options("postgresql+psycopg://app@db/app")
    # connection_checks does the ping's and the reset's work without their round trips.
    assert "pool_pre_ping" not in server
    assert server["pool_reset_on_return"] is None
    assert server["pool_size"] == settings.db_pool_size
    assert server["connect_args"]["connect_timeout"] == settings.db_connect_timeout
    milliseconds = round(settings.db_statement_timeout * 1000)
    assert server["connect_args"]["options"] == f"-c statement_timeout={milliseconds}"


def test_where_looking_could_mislead_the_check_pings_instead() -> None:
    plain = SimpleNamespace(pgconn=SimpleNamespace(ssl_in_use=False, socket=7))
    assert plain_socket(plain) == 7
    # TLS may deliver records the server sent unasked; an unknown driver is not guessed at.
    assert plain_socket(SimpleNamespace(pgconn=SimpleNamespace(ssl_in_use=True, socket=7))) is None
    assert plain_socket(SimpleNamespace(_sock=ssl.SSLSocket.__new__(ssl.SSLSocket))) is None
    assert plain_socket(object()) is None


def test_a_returned_connection_is_rolled_back_only_when_the_driver_says_it_must() -> None:
    def psycopg(status: str) -> SimpleNamespace:
        return SimpleNamespace(
            info=SimpleNamespace(transaction_status=SimpleNamespace(name=status))
        )

    assert not in_transaction(psycopg("IDLE"))
    assert in_transaction(psycopg("INTRANS"))
    assert in_transaction(psycopg("INERROR"))
    assert in_transaction(object())  # cannot tell: roll back to be safe


def test_through_a_pooler_nothing_outlives_the_transaction(monkeypatch: pytest.MonkeyPatch) -> None:
    """Set and different, DATABASE_DIRECT_URL says DATABASE_URL goes through a pooler."""
    monkeypatch.setattr(settings, "database_direct_url", "postgresql+psycopg://app@db/app")
    pooled = engine_options("postgresql+psycopg://app@pgbouncer/app")["connect_args"]
    direct = engine_options("postgresql+psycopg://app@db/app")["connect_args"]

    assert pooled["prepare_threshold"] is None  # psycopg prepares nothing
    assert "options" not in pooled  # PgBouncer refuses startup options
    assert "prepare_threshold" not in direct
    assert "statement_timeout" in direct["options"]

"""What database/driver.py tells the engine and the pool's checks about PyMySQL's connections."""

import ssl
from types import SimpleNamespace

from {{ cookiecutter.package_name }}.config import settings
from {{ cookiecutter.package_name }}.database.driver import in_transaction, plain_socket
from {{ cookiecutter.package_name }}.database.engine import engine_options


def test_the_server_gets_a_sized_pool_and_timeouts() -> None:
    server = engine_options("mysql+pymysql://app@db/app")
    # connection_checks does the ping's and the reset's work without their round trips.
    assert "pool_pre_ping" not in server
    assert server["pool_reset_on_return"] is None
    assert server["pool_size"] == settings.db_pool_size
    # The statement timeout is a session variable, set as each connection opens.
    assert server["connect_args"] == {"connect_timeout": settings.db_connect_timeout}


def test_where_looking_could_mislead_the_check_pings_instead() -> None:
    # TLS may deliver records the server sent unasked; an unknown driver is not guessed at.
    assert plain_socket(SimpleNamespace(_sock=ssl.SSLSocket.__new__(ssl.SSLSocket))) is None
    assert plain_socket(object()) is None


def test_a_returned_connection_is_rolled_back_only_when_the_driver_says_it_must() -> None:
    assert not in_transaction(SimpleNamespace(server_status=0x0002))  # autocommit only
    assert in_transaction(SimpleNamespace(server_status=0x0003))  # ... and in a transaction
    assert in_transaction(object())  # cannot tell: roll back to be safe

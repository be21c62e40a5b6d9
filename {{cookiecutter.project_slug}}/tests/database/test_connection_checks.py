"""The pool's checks in connection_checks.py, on real sockets and the drivers' own answers.

The round trips they save are counted in test_round_trips.py, and dead
connections replaced at checkout in test_database_faults.py; these cover the
cases those cannot reach: what the check does where it cannot tell.
"""

import socket
import ssl
from types import SimpleNamespace

from {{ cookiecutter.package_name }}.database.connection_checks import (
    has_something_to_read,
    in_transaction,
    plain_socket,
)


def test_a_socket_is_readable_once_its_peer_speaks_or_closes() -> None:
    ours, server = socket.socketpair()
    with ours, server:
        assert not has_something_to_read(ours.fileno())  # idle: alive
        server.sendall(b"E")  # an error the server sends before it hangs up
        assert has_something_to_read(ours.fileno())
    ours, server = socket.socketpair()
    with ours:
        server.close()  # the server hung up
        assert has_something_to_read(ours.fileno())


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
    assert not in_transaction(SimpleNamespace(server_status=0x0002))  # PyMySQL: autocommit only
    assert in_transaction(SimpleNamespace(server_status=0x0003))  # ... and in a transaction
    assert in_transaction(object())  # cannot tell: roll back to be safe

"""The pool's checks in connection_checks.py, on real sockets; the driver's in test_driver.py.

The round trips they save are counted in test_round_trips.py, and dead
connections replaced at checkout in test_database_faults.py; these cover the
cases those cannot reach: what the check does where it cannot tell.
"""

import socket

from {{ cookiecutter.package_name }}.database.connection_checks import has_something_to_read


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

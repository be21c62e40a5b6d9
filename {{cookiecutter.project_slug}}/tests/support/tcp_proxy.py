"""A TCP forwarder that tests can switch off, to play a server going away.

Stopping the proxy looks, to whoever connects through it, like the server
going away (open connections cut, new ones refused), and disturbs no other
client of the machine's server.
"""

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType
from urllib.parse import urlsplit

# For URLs that leave the port out, by scheme (a driver after "+" aside).
DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "redis": 6379, "amqp": 5672, "pyamqp": 5672}


class TcpProxy:
    """Forwards ``127.0.0.1:port`` to ``target``; ``stop()`` and ``start()`` again."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._cut_after: bytes | None = None
        self._cut_before: bytes | None = None
        self.cuts = 0
        # Round trips: each time a client speaks after the server did (or
        # first). One request may arrive in several reads; it counts once.
        self.round_trips = 0
        self._last_traffic = time.monotonic()

    def round_trips_once_quiet(self, quiet: float = 0.3) -> int:
        """``round_trips`` once nothing has crossed the proxy for ``quiet`` seconds.

        A task's result can reach the caller before the task's last statement
        (the ROLLBACK of its cleanup) reaches the server; reading the count at
        once would charge that round trip to whatever runs next.
        """
        while (idle := time.monotonic() - self._last_traffic) < quiet:
            time.sleep(quiet - idle)
        return self.round_trips

    def round_trips_per_call(self, call: Callable[[], object], times: int = 20) -> float:
        """The round trips one ``call`` makes, averaged over ``times`` calls.

        Six uncounted calls first: once-per-connection costs are not a call's
        (the first connects, and psycopg prepares a statement on the server
        after its fifth run).
        """
        for _ in range(6):
            call()
        before = self.round_trips_once_quiet()
        for _ in range(times):
            call()
        return (self.round_trips_once_quiet() - before) / times

    @classmethod
    def in_front_of(cls, url: str) -> "TcpProxy":
        """A proxy for the server of a database or broker URL."""
        parts = urlsplit(url)
        return cls(parts.hostname or "127.0.0.1", parts.port or DEFAULT_PORTS[scheme(url)])

    def url_through(self, url: str) -> str:
        """``url`` pointing at this proxy (once started), its credentials and path kept."""
        assert self.port, "start the proxy first: its port is chosen then"
        parts = urlsplit(url)
        credentials = parts.netloc.rpartition("@")[0]
        address = f"127.0.0.1:{self.port}"
        return parts._replace(
            netloc=f"{credentials}@{address}" if credentials else address
        ).geturl()

    def start(self) -> "TcpProxy":
        # The same port each time, so clients reconnect to the address they know.
        listener = socket.create_server(("127.0.0.1", self.port))
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def stop(self) -> None:
        """Refuse new connections and cut the open ones."""
        with self._lock:
            if self._listener is not None:
                self._listener.close()
                self._listener = None
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._sockets.clear()

    def cut_once_after(self, marker: bytes) -> None:
        """Cut the next connection whose client sends ``marker``, once it reached the server.

        With ``b"COMMIT"`` the server commits, and the client never hears so:
        the "ambiguous commit" a lost connection causes.
        """
        self._cut_after = marker

    def cut_once_before(self, marker: bytes) -> None:
        """Cut the next connection whose client sends ``marker``, before the server sees it.

        With ``b"COMMIT"`` the server never commits: it rolls the transaction
        back when the connection drops, and the client gets an error.
        """
        self._cut_before = marker

    def __enter__(self) -> "TcpProxy":
        return self if self._listener is not None else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # stopped
            try:
                server = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:  # stopped meanwhile
                    client.close()
                    server.close()
                    return
                self._sockets.update((client, server))
            turn = _Turn()
            for source, sink, watch in ((client, server, True), (server, client, False)):
                threading.Thread(
                    target=self._pump, args=(source, sink, watch, turn), daemon=True
                ).start()

    def _pump(self, source: socket.socket, sink: socket.socket, watch: bool, turn: "_Turn") -> None:
        try:
            while data := source.recv(65536):
                with self._lock:
                    if turn.cut:  # the server's answer to what the client sent last
                        break
                    self._last_traffic = time.monotonic()
                    if watch and not turn.client_spoke_last:
                        self.round_trips += 1
                    turn.client_spoke_last = watch
                if watch and self._should_cut(data, before=True):
                    break
                cut_after = watch and self._should_cut(data, before=False)
                if cut_after:  # before the server can answer, so its answer is never passed on
                    turn.cut = True
                sink.sendall(data)
                if cut_after:
                    break
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def _should_cut(self, data: bytes, *, before: bool) -> bool:
        with self._lock:
            marker = self._cut_before if before else self._cut_after
            if marker is None or marker not in data:
                return False
            if before:
                self._cut_before = None
            else:
                self._cut_after = None
            self.cuts += 1
            return True


def scheme(url: str) -> str:
    """``postgresql`` for ``postgresql+psycopg://...``."""
    return urlsplit(url).scheme.split("+")[0]


class _Turn:
    """Who spoke last on one proxied connection, and whether it is being cut."""

    client_spoke_last = False
    cut = False

"""A TCP forwarder that counts the round trips between database clients and the server.

The baked project's tests have a proxy of their own, but it is test code, and
nothing outside a project's ``tests/`` imports test code; the benchmark needs
only the counting, so it has this small one.

A round trip is counted each time a client speaks after the server spoke (or
first): one request that arrives in several reads counts once. With ``delay``
it also holds each chunk that long before passing it on, each way, which puts
the database at a network's distance (0.5 ms each way: a server in the next
rack or zone). Hand-written because it is a few lines here; toxiproxy, the
usual tool, is a server of its own that pip cannot install.
"""

import contextlib
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from types import TracebackType


class RoundTripCounter:
    """Forwards ``127.0.0.1:port`` (a free port) to ``target`` while in its ``with`` block."""

    def __init__(self, target_host: str, target_port: int, delay: float = 0.0) -> None:
        self.target = (target_host, target_port)
        self.delay = delay
        self.port = 0
        self.round_trips = 0
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._open_connections = 0
        self._changed = threading.Condition()

    @classmethod
    def in_front_of(cls, url: str, default_port: int, delay: float = 0.0) -> "RoundTripCounter":
        # Imported here: the forwarder itself needs only the standard library, so
        # the template's own tests, whose venv has no SQLAlchemy, can run it.
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
        return cls(parsed.host or "127.0.0.1", parsed.port or default_port, delay)

    def url_through(self, url: str) -> str:
        """``url`` with its host and port replaced by this proxy's (once started)."""
        from sqlalchemy.engine import make_url

        assert self.port, "start the proxy first: its port is chosen then"
        proxied = make_url(url).set(host="127.0.0.1", port=self.port)
        return proxied.render_as_string(hide_password=False)

    def wait_closed(self, timeout: float = 10) -> None:
        """Wait until every connection through the proxy has closed.

        Then all its clients sent is counted, up to their goodbye (psycopg's
        Terminate, PyMySQL's COM_QUIT), which may still be on its way when the
        client process has exited.
        """
        with self._changed:
            if not self._changed.wait_for(lambda: self._open_connections == 0, timeout):
                raise TimeoutError(f"{self._open_connections} connections still open")

    def __enter__(self) -> "RoundTripCounter":
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Refuse new connections and cut the open ones."""
        with self._changed:
            listener, self._listener = self._listener, None
            sockets = [*self._sockets] + ([listener] if listener else [])
        for sock in sockets:
            # shutdown(), unlike close(), wakes a thread blocked in accept() or recv().
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        if listener:
            listener.close()

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
            with self._changed:
                if self._listener is not listener:  # stopped meanwhile
                    client.close()
                    server.close()
                    return
                self._sockets.update((client, server))
                self._open_connections += 1
            threading.Thread(target=self._forward, args=(client, server), daemon=True).start()

    def _forward(self, client: socket.socket, server: socket.socket) -> None:
        """Both directions of one connection, until either side closes it."""
        turn = _Turn()
        upstream = threading.Thread(
            target=self._pump, args=(client, server, turn, True), daemon=True
        )
        upstream.start()
        self._pump(server, client, turn, False)
        upstream.join()
        with self._changed:
            self._sockets.difference_update((client, server))
            self._open_connections -= 1
            self._changed.notify_all()
        client.close()
        server.close()

    def _pump(
        self,
        source: socket.socket,
        sink: socket.socket,
        turn: "_Turn",
        from_client: bool,
    ) -> None:
        chunks: queue.SimpleQueue[tuple[float, bytes]] = queue.SimpleQueue()
        # A sender of its own: each chunk leaves ``delay`` after it came, however
        # many came meanwhile, so the delay is a distance, not a toll per read.
        sender = threading.Thread(target=self._deliver, args=(chunks, sink), daemon=True)
        sender.start()
        try:
            while data := source.recv(65536):
                with self._changed:
                    if from_client and not turn.client_spoke_last:
                        self.round_trips += 1
                    turn.client_spoke_last = from_client
                chunks.put((time.monotonic() + self.delay, data))
        except OSError:
            pass
        finally:
            chunks.put((0.0, b""))  # the end, once what came before it is sent
            sender.join()
            # One side is done: end the other direction too.
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    @staticmethod
    def _deliver(chunks: "queue.SimpleQueue[tuple[float, bytes]]", sink: socket.socket) -> None:
        while (chunk := chunks.get())[1]:
            due, data = chunk
            if (pause := due - time.monotonic()) > 0:
                time.sleep(pause)
            try:
                sink.sendall(data)
            except OSError:
                return


class _Turn:
    """Who spoke last on one connection: the client or the server."""

    client_spoke_last = False


@contextlib.contextmanager
def delaying_proxy_process(url: str, default_port: int, delay: float) -> Iterator[str]:
    """``url`` through a delaying proxy in a process of its own, while in the ``with`` block.

    The bench's own process sends thousands of tasks at once while the worker
    reads through the proxy; sharing that process, the proxy's threads would
    queue for the GIL (up to its 5 ms switch interval), and the delay with them.
    """
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    target = [parsed.host or "127.0.0.1", str(parsed.port or default_port)]
    with subprocess.Popen(
        [sys.executable, "-m", "bench.round_trips", *target, str(delay)],
        stdout=subprocess.PIPE,
        text=True,
    ) as child:
        try:
            assert child.stdout is not None
            port = int(child.stdout.readline())
            yield parsed.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
        finally:
            child.terminate()
            child.wait(timeout=10)


def main() -> None:
    """``python -m bench.round_trips HOST PORT DELAY``: forward until killed; prints its port."""
    host, port, delay = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    with RoundTripCounter(host, port, delay) as proxy:
        print(proxy.port, flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main()

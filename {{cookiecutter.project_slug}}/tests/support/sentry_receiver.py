"""A Sentry endpoint in the test process: the events that services report, as they arrive.

sentry-sdk posts an envelope (a JSON header line, then items, each a header
line and a payload) to ``/api/<project>/envelope/``; this keeps each error
event, and the raw bytes, to look for what must not be there.
"""

import gzip
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class SentryReceiver:
    """Events received so far, and the DSN that sends a process's events here."""

    def __init__(self, port: int) -> None:
        self.dsn = f"http://public-key@127.0.0.1:{port}/1"
        self.raw: list[bytes] = []
        self._events: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def env(self, environment: str = "test") -> dict[str, str]:
        return {"SENTRY_DSN": self.dsn, "SENTRY_ENVIRONMENT": environment}

    def add(self, envelope: bytes) -> None:
        events = [payload for kind, payload in items(envelope) if kind == "event"]
        with self._lock:
            self.raw.append(envelope)
            self._events.extend(json.loads(event) for event in events)

    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._events)


def items(envelope: bytes) -> Iterator[tuple[str, bytes]]:
    """Each item's type and payload (the envelope format, develop.sentry.dev)."""
    _, _, rest = envelope.partition(b"\n")
    while rest.strip():
        header_line, _, rest = rest.partition(b"\n")
        header = json.loads(header_line)
        if "length" in header:
            payload, rest = rest[: header["length"]], rest[header["length"] + 1 :]
        else:
            payload, _, rest = rest.partition(b"\n")
        yield header["type"], payload


def message_of(event: dict[str, Any]) -> str:
    """The exception's type and value, or the logged line."""
    exceptions = event.get("exception", {}).get("values", [])
    if exceptions:
        last = exceptions[-1]
        return f"{last.get('type')}: {last.get('value')}"
    return str(event.get("logentry", {}).get("formatted", ""))


def trace_id_of(event: dict[str, Any]) -> str | None:
    trace_id = event.get("contexts", {}).get("trace", {}).get("trace_id")
    return str(trace_id) if trace_id else None


@contextmanager
def sentry_receiver() -> Iterator[SentryReceiver]:
    """A receiver on a free port, for the length of the block."""
    receiver: SentryReceiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            encoding = self.headers.get("Content-Encoding", "")
            if encoding == "gzip":
                body = gzip.decompress(body)
            elif encoding:
                raise ValueError(f"an envelope in {encoding}, which this receiver cannot read")
            if self.path.endswith("/envelope/"):
                receiver.add(body)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = SentryReceiver(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()

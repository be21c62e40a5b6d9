"""Run the service's HTTP API with ``make web`` in a child process, for the tests and the demo.

The tests start it exactly as a developer does, on a free port of their own.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

PROJECT_ROOT = Path(__file__).resolve().parents[1]


class WebServerFailed(RuntimeError):
    """The server exited or never answered; the message holds its log."""


class WebServer:
    def __init__(self, process: subprocess.Popen[bytes], log_path: Path, url: str) -> None:
        self.process = process
        self.log_path = log_path
        self.url = url

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)

    def wait_until_ready(self, timeout: float) -> None:
        """Until the server answers HTTP at all (``/health`` may say 503: still up)."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise WebServerFailed(f"web server exited early:\n{self.log()}")
            try:
                httpx.get(f"{self.url}/health", timeout=10)
                return
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise WebServerFailed(
                        f"web server not answering after {timeout}s:\n{self.log()}"
                    ) from None
                time.sleep(0.1)

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM to make and the server under it (a graceful stop), then kill if it hangs."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def running_web_server(
    log_path: Path, *, env: Mapping[str, str] | None = None, ready_timeout: float = 60
) -> Iterator[WebServer]:
    """``make web`` on a free port; ``env`` overrides settings (DATABASE_URL, CELERY_QUEUE)."""
    port = free_port()
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [
                "make",
                "--no-print-directory",
                "web",
                # This interpreter's scripts (uvicorn or gunicorn), wherever it
                # is installed: .venv, or a CI runner's own Python.
                f"BIN={Path(sys.executable).parent}",
                "WEB_HOST=127.0.0.1",
                f"WEB_PORT={port}",
            ],
            cwd=PROJECT_ROOT,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            # Its own process group: a stop reaches make and the server's processes.
            start_new_session=True,
        )
    server = WebServer(process, log_path, f"http://127.0.0.1:{port}")
    try:
        server.wait_until_ready(ready_timeout)
        yield server
    finally:
        server.stop()

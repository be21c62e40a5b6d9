"""The web API started as a child, with ``make web`` on a free port, for the demo and the tests."""

import sys
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from .processes import ChildProcess, free_port


def answers_http(url: str) -> bool:
    """Any answer counts: ``/health`` says 503 while a server is down, and the API is up."""
    try:
        with urllib.request.urlopen(url, timeout=10):  # noqa: S310 (a URL of our own making)
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


@contextmanager
def running_web_server(
    log_path: Path, env: Mapping[str, str] | None = None, ready_timeout: float = 60
) -> Iterator[tuple[ChildProcess, str]]:
    """``make web`` on a free port, once it answers; the process and its base URL."""
    port = free_port()
    command = [
        *("make", "--no-print-directory", "web"),
        # This interpreter's web server: .venv, or a CI runner's Python.
        f"BIN={Path(sys.executable).parent}",
        "WEB_HOST=127.0.0.1",
        f"WEB_PORT={port}",
    ]
    url = f"http://127.0.0.1:{port}"
    server = ChildProcess(command, log_path, env or {}, via_make=True)
    try:
        server.wait_until(lambda: answers_http(f"{url}/health"), "make web", ready_timeout)
        yield server, url
    finally:
        server.stop()

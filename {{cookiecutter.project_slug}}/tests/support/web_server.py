"""The web API under test: ``make web`` as a developer runs it, and a client for it."""

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from {{ cookiecutter.package_name }}.web.server_checks import CHECK_TIMEOUT

from .environment import TMP_DIR
from .processes import ChildProcess
from scripts.web_process import running_web_server

# The readiness probe's timeoutSeconds.
READY_WITHIN = 1.0
# /health checks the database, then the broker, each for CHECK_TIMEOUT at most.
HEALTH_WITHIN = 2 * CHECK_TIMEOUT + 1


@dataclass
class WebServer:
    process: ChildProcess
    url: str

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)


@contextmanager
def web_server(name: str, env: Mapping[str, str] | None = None) -> Iterator[WebServer]:
    """The API on this run's database; ``env`` overrides settings (a proxy's URL, a queue)."""
    with running_web_server(TMP_DIR / f"web-{name}.log", env) as (process, url):
        yield WebServer(process, url)

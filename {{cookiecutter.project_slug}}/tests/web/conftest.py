"""Fixtures for the HTTP API's tests."""

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy.orm import Session, scoped_session

from ..support.web_server import WebServer, web_server
from ..support.workers import ChildProcess


@pytest.fixture(scope="module")
def web(worker: ChildProcess) -> Iterator[WebServer]:
    """The API sending to the run's worker's queue."""
    with web_server("shared") as server:
        yield server


@pytest.fixture
def api(web: WebServer, session: scoped_session[Session]) -> Iterator[httpx.Client]:
    """A client of ``web``; what its requests store is deleted after the test."""
    with web.client() as client:
        yield client

"""Importing the app, as every producer does, creates no file and connects to nothing.

What a worker needs as it starts (a metrics directory, the database checked,
the broker's queues declared) waits for the worker's own signals.
"""

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy.engine import make_url

from {{ cookiecutter.package_name }}.config import settings

from .support.environment import TMP_DIR

# Lists the files there are once the app is imported: what the process
# creates, it might remove as it exits.
IMPORT_THE_APP = """
import os
from {{ cookiecutter.package_name }}.celery import app
app.loader.import_default_modules()
print(sorted(os.listdir(os.environ["TMPDIR"])), sorted(os.listdir(".")))
"""


@pytest.fixture
def silent_port() -> Iterator[socket.socket]:
    """A port that listens and never answers: any attempt to connect waits in its backlog."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.setblocking(False)
        yield listener


def attempts(listener: socket.socket) -> int:
    count = 0
    while True:
        try:
            connection, _ = listener.accept()
        except BlockingIOError:
            return count
        connection.close()
        count += 1


def database_at(port: int, empty: Path) -> str:
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        return url.set(database=str(empty / "app.sqlite3")).render_as_string()
    return url.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)


def broker_at(url: str, port: int) -> str:
    parts = urlsplit(url)
    if parts.hostname is None:  # rpc:// uses the broker's connection
        return url
    credentials, at, _ = parts.netloc.rpartition("@")
    return parts._replace(netloc=f"{credentials}{at}127.0.0.1:{port}").geturl()


def test_importing_the_app_and_its_tasks_creates_no_file_and_opens_no_connection(
    silent_port: socket.socket,
) -> None:
    port = silent_port.getsockname()[1]
    empty = TMP_DIR / "import-the-app"
    (empty / "tmp").mkdir(parents=True)
    env = {
        **{name: value for name, value in os.environ.items() if name != "PROMETHEUS_MULTIPROC_DIR"},
        "TMPDIR": str(empty / "tmp"),
        "DATABASE_URL": database_at(port, empty),
        "CELERY_BROKER_URL": broker_at(settings.celery_broker_url, port),
        "CELERY_RESULT_BACKEND": broker_at(settings.celery_result_backend, port),
    }

    # From the empty folder: no .env read, and nothing written beside it.
    imported = subprocess.run(
        [sys.executable, "-c", IMPORT_THE_APP],
        cwd=empty,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )

    # Nothing in TMPDIR, nothing beside the empty folder's own tmp/.
    assert imported.stdout.splitlines()[-1] == "[] ['tmp']"
    assert sorted(path.name for path in empty.rglob("*")) == ["tmp"]
    assert attempts(silent_port) == 0

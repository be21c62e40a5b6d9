"""A PgBouncer of the test's own, in transaction mode, in front of the run's PostgreSQL server.

Debian's ``pgbouncer`` package, started on a free port like the private
``redis-server`` of the outage tests, and stopped after. Its pool is smaller
than a worker's processes, so transactions take turns on its server
connections, as in production; nothing a session keeps can survive that.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url

from {{ cookiecutter.package_name }}.config import settings
from {{ cookiecutter.package_name }}.database.engine import build_engine

from .environment import PROJECT_ROOT
from .processes import ChildProcess, free_port
from .workers import own_worker

# Fewer than the worker's processes: they share these.
POOL_SIZE = 2
WORKER_PROCESSES = 4
# PgBouncer refuses to run as root; Debian's PostgreSQL package adds this user.
UNPRIVILEGED_USER = "postgres"


def skip_unless_a_server(database_url: str) -> None:
    """Embedded mode (SQLite) has no server for PgBouncer to stand in front of."""
    backend = make_url(database_url).get_backend_name()
    if backend != "postgresql":
        pytest.skip(f"needs a database server; PgBouncer pools PostgreSQL's, not {backend}")


def pgbouncer_program() -> str:
    """The program, or the test fails under CI and is skipped elsewhere, saying why."""
    program = shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin")
    if program is None:
        message = "needs pgbouncer installed here (Debian: apt-get install pgbouncer)"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return program


class PgBouncer:
    """Started in ``folder`` on a free port; ``url_to`` rewrites a direct URL to go through it."""

    def __init__(self, folder: Path, direct_url: str) -> None:
        server = make_url(direct_url)
        user = server.username or UNPRIVILEGED_USER
        self.port = free_port()
        ini = folder / "pgbouncer.ini"
        userlist = folder / "userlist.txt"
        # trust: PgBouncer asks the client nothing, and logs in to the server
        # with the password listed here (the direct URL's, if any).
        userlist.write_text(f'"{user}" "{server.password or ""}"\n')
        ini.write_text(
            "[databases]\n"
            f"* = host={server.host or '127.0.0.1'} port={server.port or 5432}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
            f"auth_type = trust\nauth_file = {userlist}\n"
            f"pool_mode = transaction\ndefault_pool_size = {POOL_SIZE}\n"
            "max_client_conn = 200\n"
        )
        command = [pgbouncer_program(), str(ini)]
        if os.geteuid() == 0:
            command[1:1] = ["-u", UNPRIVILEGED_USER]
            shutil.chown(folder, UNPRIVILEGED_USER)
            for path in (ini, userlist):
                shutil.chown(path, UNPRIVILEGED_USER)
        self.process = ChildProcess(command, folder / "pgbouncer.log", {})
        self.process.wait_until(self.accepts, "pgbouncer", timeout=10)

    def accepts(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), 0.2).close()
        except OSError:
            return False
        return True

    def url_to(self, direct_url: str) -> str:
        through = make_url(direct_url).set(host="127.0.0.1", port=self.port)
        return through.render_as_string(hide_password=False)


@contextmanager
def running_pgbouncer(direct_url: str) -> Iterator[PgBouncer]:
    """A PgBouncer in front of ``direct_url``'s server until the block ends."""
    with tempfile.TemporaryDirectory(prefix="pgbouncer-") as folder:
        bouncer = PgBouncer(Path(folder), direct_url)
        try:
            yield bouncer
        finally:
            bouncer.process.stop()


def prestart(env: dict[str, str], *options: str) -> None:
    """``python -m ...prestart``, as a deployment runs it, with ``env`` over the run's."""
    done = subprocess.run(
        [sys.executable, "-m", "{{ cookiecutter.package_name }}.prestart", *options],
        cwd=PROJECT_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


@dataclass
class Pooled:
    env: dict[str, str]
    worker: ChildProcess
    engine: Engine  # the tests' own writes, through PgBouncer as the app's


@contextmanager
def pooled_worker(name: str, statement_timeout: str = "60") -> Iterator[Pooled]:
    """A worker of four processes on ``queue_of(name)``, through a PgBouncer of its own.

    Migrated first as a deployment is (prestart on the direct URL), which
    makes ``statement_timeout`` the role's default in the run's database,
    before PgBouncer opens a server connection; reset afterwards.
    """
    direct_url = settings.direct_database_url
    with running_pgbouncer(direct_url) as bouncer, pytest.MonkeyPatch.context() as patch:
        env = {
            "DATABASE_URL": bouncer.url_to(direct_url),
            "DATABASE_DIRECT_URL": direct_url,
            "DB_STATEMENT_TIMEOUT": statement_timeout,
        }
        prestart(env)
        # This process's writes go through PgBouncer too, as the service's would.
        patch.setattr(settings, "database_direct_url", direct_url)
        engine = build_engine(env["DATABASE_URL"])
        try:
            with own_worker(name, concurrency=WORKER_PROCESSES, env=env) as worker:
                yield Pooled(env, worker, engine)
        finally:
            engine.dispose()
            reset_statement_timeout(direct_url)


def reset_statement_timeout(direct_url: str) -> None:
    """Take the role's default away again, for the run's other tests."""
    direct = create_engine(direct_url, isolation_level="AUTOCOMMIT")
    try:
        with direct.connect() as connection:
            connection.exec_driver_sql(
                "DO $$ BEGIN EXECUTE format('ALTER ROLE CURRENT_USER IN DATABASE %%I"
                " RESET statement_timeout', current_database()); END $$"
            )
    finally:
        direct.dispose()

"""Run a real ``celery worker`` in a child process, for the tests and the demo.

Not eager mode: eager tasks run in the caller's thread, share its session and
see its uncommitted rows, which hides exactly the bugs this project prevents.
"""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

READY_MARK = " ready."
# The service's Celery app, as ``celery --app`` names it.
APP = "{{ cookiecutter.package_name }}.celery"


class WorkerFailed(RuntimeError):
    """The worker exited or did not become ready; the message holds its log."""


class WorkerProcess:
    """A worker started with ``start()``; its output goes to ``log_path``."""

    def __init__(self, process: subprocess.Popen[bytes], log_path: Path) -> None:
        self.process = process
        self.log_path = log_path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def exited(self) -> bool:
        return self.process.poll() is not None

    def wait_until_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while READY_MARK not in self.log():
            if self.process.poll() is not None:
                raise WorkerFailed(f"worker exited early:\n{self.log()}")
            if time.monotonic() > deadline:
                raise WorkerFailed(f"worker not ready after {timeout}s:\n{self.log()}")
            time.sleep(0.1)

    def stop(self, timeout: float = 20) -> None:
        """Warm shutdown (finish running tasks), then kill if it hangs."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def worker_command(
    pool: str = "prefork",
    concurrency: int = 2,
    node_name: str = "worker",
    queue: str | None = None,
    include: Sequence[str] = (),
    app: str = APP,
    extra: Sequence[str] = (),
) -> list[str]:
    """``celery worker`` for ``app``; ``include`` adds modules of extra tasks."""
    options = [f"--queues={queue}"] if queue else []
    if include:
        options.append(f"--include={','.join(include)}")
    return [
        sys.executable,
        "-m",
        "celery",
        "--app",
        app,
        "worker",
        f"--pool={pool}",
        f"--concurrency={concurrency}",
        f"--hostname={node_name}@%h",
        # A lone test or demo worker has no peers to sync with.
        "--without-gossip",
        "--without-mingle",
        *options,
        *extra,
    ]


@contextmanager
def running_worker(
    log_path: Path,
    *,
    pool: str = "prefork",
    concurrency: int = 2,
    node_name: str = "worker",
    queue: str | None = None,
    include: Sequence[str] = (),
    app: str = APP,
    extra: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    ready_timeout: float = 60,
) -> Iterator[WorkerProcess]:
    """Start a worker, wait until it consumes, and stop it on exit.

    ``queue`` defaults to the app's ``task_default_queue``; give each of several
    workers its own when a test must know which worker ran its tasks.
    """
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            worker_command(pool, concurrency, node_name, queue, include, app, extra),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            # INFO at least: readiness and the tests read the worker's INFO lines.
            env={**os.environ, "LOG_LEVEL": "INFO", **(env or {})},
            # Its own process group, so a kill also reaches the pool children.
            start_new_session=True,
        )
    worker = WorkerProcess(process, log_path)
    try:
        worker.wait_until_ready(ready_timeout)
        yield worker
    finally:
        worker.stop()

"""The service's processes started as children, for the demo and the tests: a worker, the relay.

Each is started as a developer would start it, with its output in a log file,
and stopped with SIGTERM (a warm shutdown), then SIGKILL if it hangs.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "{{ cookiecutter.package_name }}"
# Chosen by this process for itself when it started counting metrics
# (telemetry/metrics.py): a process started from a shell has none.
OWN_VARIABLES = ("PROMETHEUS_MULTIPROC_DIR",)


def without(variables: Mapping[str, str], names: Sequence[str]) -> dict[str, str]:
    return {name: value for name, value in variables.items() if name not in names}


class ProcessFailed(RuntimeError):
    """The process exited or did not become ready; the message holds its log."""


class ChildProcess:
    def __init__(
        self,
        command: Sequence[str],
        log_path: Path,
        env: Mapping[str, str],
        *,
        via_make: bool = False,
    ) -> None:
        self.log_path = log_path
        # make passes no signal on: SIGTERM then goes to its whole process group.
        self.via_make = via_make
        with log_path.open("wb") as log_file:
            self.process = subprocess.Popen(
                command,
                cwd=PROJECT_ROOT,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env={**without(os.environ, OWN_VARIABLES), **env},
                # Its own process group, so SIGKILL reaches every child it forked.
                start_new_session=True,
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def exited(self) -> bool:
        return self.process.poll() is not None

    def wait_until(self, ready: Callable[[], bool], what: str, timeout: float) -> None:
        """Wait for ``ready()``; a process that exits or never gets there is stopped."""
        deadline = time.monotonic() + timeout
        while not ready():
            if self.exited() or time.monotonic() > deadline:
                self.stop()
                raise ProcessFailed(f"{what} did not become ready in {timeout}s:\n{self.log()}")
            time.sleep(0.1)

    def stop(self, timeout: float = 20) -> None:
        if self.exited():
            return
        if self.via_make:
            os.killpg(self.process.pid, signal.SIGTERM)
        else:
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
    app: str = f"{PACKAGE}.celery",
    extra: Sequence[str] = (),
) -> list[str]:
    options = [f"--queues={queue}"] if queue else []
    if include:
        options.append(f"--include={','.join(include)}")
    return [
        sys.executable,
        *("-m", "celery", "--app", app, "worker"),
        f"--pool={pool}",
        f"--concurrency={concurrency}",
        f"--hostname={node_name}@%h",
        # A lone worker has no peers to sync with.
        "--without-gossip",
        "--without-mingle",
        *options,
        *extra,
    ]


@contextmanager
def running_worker(
    log_path: Path,
    command: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    ready_timeout: float = 60,
) -> Iterator[ChildProcess]:
    """A ``celery worker`` (``worker_command()`` by default), once it consumes."""
    # INFO at least: readiness is read from the worker's INFO lines.
    worker = ChildProcess(
        command or worker_command(), log_path, {"LOG_LEVEL": "INFO", **(env or {})}
    )
    try:
        worker.wait_until(lambda: " ready." in worker.log(), "celery worker", ready_timeout)
        yield worker
    finally:
        worker.stop()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def running_relay(log_path: Path, env: Mapping[str, str] | None = None) -> Iterator[ChildProcess]:
    """The outbox relay loop, ``python -m ...relay``, until SIGTERM."""
    relay = ChildProcess([sys.executable, "-m", f"{PACKAGE}.relay"], log_path, env or {})
    try:
        yield relay
    finally:
        relay.stop()

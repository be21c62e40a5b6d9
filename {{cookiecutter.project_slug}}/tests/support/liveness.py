"""The liveness probe run as Kubernetes runs it: a command whose exit status is the answer."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from .processes import ChildProcess

# Short, so that a test sees a hung process declared dead in seconds.
HEARTBEAT_EVERY = 0.3
WITHIN = 2.0
# An outage in a test: three probe windows, and a second.
OUTAGE = 3 * WITHIN + 1


def heartbeat_env(path: str) -> dict[str, str]:
    return {"HEARTBEAT_FILE": path, "HEARTBEAT_EVERY": str(HEARTBEAT_EVERY)}


def probe(path: str) -> subprocess.CompletedProcess[str]:
    """``python -m <package>.liveness``, as the probe's command runs it."""
    return subprocess.run(
        [sys.executable, "-m", "{{ cookiecutter.package_name }}.liveness", "--within", str(WITHIN)],
        env={**os.environ, **heartbeat_env(path)},
        capture_output=True,
        text=True,
        timeout=30,
    )


def alive(path: str) -> bool:
    return probe(path).returncode == 0


def probes_for(path: str, seconds: float) -> list[subprocess.CompletedProcess[str]]:
    """The probe's answers, one after the other, for ``seconds``."""
    answers = []
    ends = time.monotonic() + seconds
    while time.monotonic() < ends:
        answers.append(probe(path))
    return answers


def assert_alive_saying(answers: list[subprocess.CompletedProcess[str]], reason: str) -> None:
    """Every answer alive, and the probe said why: ``reason``."""
    assert answers
    dead = [answer.stdout for answer in answers if answer.returncode != 0]
    assert not dead, dead
    assert any(reason in answer.stdout for answer in answers), answers[-1].stdout


@contextmanager
def hung(process: ChildProcess) -> Iterator[None]:
    """The process stopped (SIGSTOP) as a deadlocked one would be, then let go again."""
    os.kill(process.process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(process.process.pid, signal.SIGCONT)

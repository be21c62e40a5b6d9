"""The processes tests start, but for workers (``workers.py``) and the web API (``web_server.py``).

The service's own come from ``scripts/processes.py``, which ``make demo``
uses too: ``ChildProcess`` (any program, with its log file, stopped by
SIGTERM then SIGKILL) and ``running_relay`` (the outbox relay loop). Here too
``free_port`` for a server of a test's own, and ``alembic``, its command line
as a user runs it.
"""

import subprocess
import sys

from scripts.processes import PROJECT_ROOT, ChildProcess, ProcessFailed, free_port, running_relay

__all__ = ["ChildProcess", "ProcessFailed", "alembic", "free_port", "running_relay"]


def alembic(*args: str) -> subprocess.CompletedProcess[str]:
    """The alembic command line, as a user runs it, on this run's database."""
    return subprocess.run(
        [sys.executable, "-m", "alembic", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )

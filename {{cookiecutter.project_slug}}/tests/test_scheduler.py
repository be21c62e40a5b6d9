"""Celery beat beats for its liveness probe from its scheduler's tick (``scheduler.py``).

A real ``celery beat`` with the scheduler the manifests select: alive while it
runs, dead once it hangs (SIGSTOP), alive again once it goes on.
"""

import sys
from pathlib import Path

from {{ cookiecutter.package_name }}.scheduler import BeatingScheduler

from .support.liveness import alive, heartbeat_env, hung
from .support.processes import ChildProcess
from .support.waiting import TIMEOUT, wait_until

SCHEDULER = f"{BeatingScheduler.__module__}:{BeatingScheduler.__name__}"


def test_beat_is_alive_while_it_ticks_and_dead_once_it_hangs(tmp_path: Path) -> None:
    heartbeat = str(tmp_path / "heartbeat")
    command = [
        *(sys.executable, "-m", "celery", "--app", "{{ cookiecutter.package_name }}.celery", "beat"),
        *("--schedule", str(tmp_path / "schedule"), "--scheduler", SCHEDULER),
    ]
    beat = ChildProcess(command, tmp_path / "beat.log", heartbeat_env(heartbeat))
    try:
        wait_until(lambda: alive(heartbeat) or beat.exited(), "beat's first heartbeat")
        assert not beat.exited(), beat.log()
        with hung(beat):
            wait_until(lambda: not alive(heartbeat), "the probe to call it dead")
        wait_until(lambda: alive(heartbeat), "beat to beat again")
    finally:
        beat.stop(timeout=TIMEOUT)

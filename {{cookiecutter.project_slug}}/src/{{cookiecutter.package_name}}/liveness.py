"""A process's heartbeat, and the probe that reads it: ``python -m {{ cookiecutter.package_name }}.liveness``.

A long-running process (a worker, the outbox relay) refreshes HEARTBEAT_FILE
every HEARTBEAT_EVERY seconds from the loop that does its work, so the beat
stops when that loop hangs, however busy its tasks keep it elsewhere. The
probe says alive while the file is recent. A broadcast ``celery inspect ping``
asks a busy worker through the broker instead, and times out (celery issue 4079).
"""

import argparse
import os
import time
from collections.abc import Sequence
from pathlib import Path

from .config import settings


def beat() -> None:
    """Refresh the heartbeat; nothing when HEARTBEAT_FILE is unset."""
    if settings.heartbeat_file is not None:
        Path(settings.heartbeat_file).touch()


def seconds_since_beat(path: str) -> float | None:
    try:
        return time.time() - os.stat(path).st_mtime
    except FileNotFoundError:
        return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=f"python -m {__name__}",
        description="Exit 0 while the process beats, 1 once its heartbeat is too old.",
    )
    parser.add_argument(
        "--within",
        type=float,
        default=3 * settings.heartbeat_every,
        metavar="SECONDS",
        help="the oldest heartbeat that still counts (default: 3 x HEARTBEAT_EVERY)",
    )
    options = parser.parse_args(argv)
    if settings.heartbeat_file is None:
        parser.error("HEARTBEAT_FILE is not set: the process writes no heartbeat")
    age = seconds_since_beat(settings.heartbeat_file)
    if age is None:
        print(f"dead: no heartbeat yet in {settings.heartbeat_file}")
        return 1
    if age > options.within:
        print(f"dead: last heartbeat {age:.0f}s ago, over {options.within:g}s")
        return 1
    print(f"alive: last heartbeat {age:.1f}s ago")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

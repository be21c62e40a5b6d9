"""A process's heartbeat, and the probe that reads it: ``python -m {{ cookiecutter.package_name }}.liveness``.

A long-running process (a worker, the outbox relay) refreshes HEARTBEAT_FILE
every HEARTBEAT_EVERY seconds from the loop that does its work, so the beat
stops when that loop hangs, however busy its tasks keep it elsewhere. The
probe says alive while the file is recent. A broadcast ``celery inspect ping``
asks a busy worker through the broker instead, and times out (celery issue 4079).

A server the process needs may be away: a restart cannot bring it back, so
the process notes the outage beside the heartbeat (``note_outage``) and the
probe says why it waits. A worker's loop does not beat while Celery reconnects
it to the broker; it counts as alive only while the reconnect makes progress:
each attempt renews the note, which promises the next within ``patience``
seconds. An outage note that is not renewed in time counts for nothing, so a
process hung in its reconnect (or stopped) still fails the probe.
"""

import argparse
import json
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
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


@dataclass(frozen=True)
class Outage:
    """What the process waits for, since when (a Unix time), and how long until its next try."""

    waiting_for: str
    since: float
    detail: str
    patience: float = 0.0

    def describe(self, now: float) -> str:
        return f"{self.waiting_for} since {now - self.since:.0f}s ({self.detail})"


def outage_file(heartbeat_file: str) -> Path:
    # Beside the heartbeat: the one folder the probe and the process share.
    return Path(f"{heartbeat_file}.outage")


def note_outage(outage: Outage) -> None:
    """Say why the process waits; each call renews the note for ``patience`` seconds more."""
    if settings.heartbeat_file is None:
        return
    path = outage_file(settings.heartbeat_file)
    # Replaced in one step: the probe never reads half a note.
    written = path.with_name(f"{path.name}.{os.getpid()}")
    written.write_text(json.dumps(asdict(outage)))
    os.replace(written, path)


def clear_outage() -> None:
    if settings.heartbeat_file is not None:
        outage_file(settings.heartbeat_file).unlink(missing_ok=True)


def read_outage(heartbeat_file: str) -> tuple[Outage, float] | None:
    """The outage noted beside ``heartbeat_file`` and the seconds since it was renewed."""
    path = outage_file(heartbeat_file)
    try:
        renewed = os.stat(path).st_mtime
        outage = Outage(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None
    return outage, time.time() - renewed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=f"python -m {__name__}",
        description="Exit 0 while the process beats (or waits for a server), 1 once it hangs.",
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
    last = "no heartbeat yet" if age is None else f"last heartbeat {age:.1f}s ago"
    noted = read_outage(settings.heartbeat_file)
    waiting = ""
    waits_in_time = False
    if noted is not None:
        outage, renewed = noted
        waits_in_time = renewed <= options.within + outage.patience
        waiting = outage.describe(time.time())
        if not waits_in_time:
            waiting += f", no progress for {renewed:.0f}s"
    if age is not None and age <= options.within:
        print(f"alive: {last}" + (f"; {waiting}" if waits_in_time else ""))
        return 0
    if waits_in_time:
        print(f"alive: {waiting}; {last}")
        return 0
    if age is None:
        dead = f"dead: no heartbeat yet in {settings.heartbeat_file}"
    else:
        dead = f"dead: {last}, over {options.within:g}s"
    print(dead + (f"; {waiting}" if waiting else ""))
    return 1


if __name__ == "__main__":
    raise SystemExit(main())

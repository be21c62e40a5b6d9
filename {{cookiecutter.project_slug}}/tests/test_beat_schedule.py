"""Beat's schedule file: kept across a restart, an interval runs on time.

Beat writes when each entry last ran to its ``--schedule`` file. A real
``celery beat`` is started, stopped (SIGTERM) before an entry is due, and
started again: on the same file, as on a volume that outlives beat's
container, the task is sent at its time; on a fresh file, as on a volume that
goes with the container, the interval starts anew, and a beat restarted more
often than that never sends the task.
"""

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .support.broker_state import messages_waiting
from .support.environment import TMP_DIR
from .support.processes import ChildProcess
from .support.waiting import TIMEOUT, wait_until

# COUNT_USERS_EVERY for these beats: longer than one beat's life in the tests.
EVERY = 8.0
# How long the first beat runs before it is stopped: well before the task is due.
FIRST_LIFE = 2.0
# How late beat may send a due task, or how late its lines reach the log here.
SLACK = 1.5
SENT = "Sending due task count users"


@contextmanager
def running_beat(schedule: Path, queue: str) -> Iterator[tuple[ChildProcess, float]]:
    """``celery beat`` on ``schedule``, sending to ``queue``; and when it started."""
    log = TMP_DIR / f"beat-{schedule.parent.name}-{time.monotonic_ns()}.log"
    command = [sys.executable, "-m", "celery", "--app", "{{ cookiecutter.package_name }}.celery", "beat"]
    # The scheduler the service runs (scheduler.py), which keeps the same file.
    command += ["--scheduler", "{{ cookiecutter.package_name }}.scheduler:BeatingScheduler"]
    env = {"CELERY_QUEUE": queue, "COUNT_USERS_EVERY": str(EVERY), "LOG_LEVEL": "INFO"}
    beat = ChildProcess([*command, "--schedule", str(schedule)], log, env)
    try:
        beat.wait_until(lambda: "beat: Starting..." in beat.log(), "celery beat", TIMEOUT)
        yield beat, time.monotonic()
    finally:
        beat.stop()


def restarted_before_due(first: Path, second: Path, queue: str) -> tuple[float, float, float]:
    """Beat on ``first``, stopped before the task is due, then on ``second``.

    Returns when the first and the second started, and when the second sent the task.
    """
    with running_beat(first, queue) as (beat, first_start):
        # Written once the entries are set up: each one's interval counts from then.
        wait_until(lambda: any(first.parent.iterdir()), "the schedule file")
        time.sleep(max(0.0, first_start + FIRST_LIFE - time.monotonic()))
    assert beat.process.returncode == 0, beat.log()
    assert SENT not in beat.log()

    with running_beat(second, queue) as (beat, second_start):
        assert second_start < first_start + EVERY - SLACK, "too slow a start for this test"
        wait_until(lambda: SENT in beat.log(), "the task to be sent", 2 * EVERY + TIMEOUT)
        sent = time.monotonic()
        # Logged before it is published: the task reaches the queue, once.
        wait_until(lambda: messages_waiting(queue) == 1, "the task in the queue")
    return first_start, second_start, sent


def test_a_beat_restarted_on_its_schedule_file_sends_the_task_on_time(
    unwatched_queue: str, tmp_path: Path
) -> None:
    kept = tmp_path / "kept" / "celerybeat-schedule"
    kept.parent.mkdir()
    messages_waiting(unwatched_queue)  # declared before beat sends to it

    first_start, second_start, sent = restarted_before_due(kept, kept, unwatched_queue)

    # Due EVERY seconds after the first beat started: the restart changed nothing.
    assert first_start + EVERY - SLACK <= sent <= first_start + EVERY + SLACK
    assert sent < second_start + EVERY - SLACK


def test_a_beat_restarted_on_a_fresh_file_postpones_the_task(
    unwatched_queue: str, tmp_path: Path
) -> None:
    # What an emptyDir gives a rescheduled pod: the old file is gone.
    old = tmp_path / "old" / "celerybeat-schedule"
    fresh = tmp_path / "fresh" / "celerybeat-schedule"
    old.parent.mkdir()
    fresh.parent.mkdir()
    messages_waiting(unwatched_queue)

    first_start, second_start, sent = restarted_before_due(old, fresh, unwatched_queue)

    # Not at its time: a whole interval after the restart.
    assert sent > first_start + EVERY + SLACK
    assert sent >= second_start + EVERY - SLACK

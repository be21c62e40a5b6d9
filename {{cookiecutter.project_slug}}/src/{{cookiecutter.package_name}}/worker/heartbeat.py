"""The worker's heartbeat (``liveness.py``), refreshed by its consumer's event loop.

That loop takes tasks from the broker and hands them to the pool: it keeps
beating while a pool process runs a long task, and stops if the loop hangs.
With the solo pool the task runs in that loop, so a long task stops the beat:
give the probe a window longer than the longest task, or use prefork. On the
embedded SQLite broker Celery polls instead, with its timer in a thread of
its own: there the beat only says that the process lives. While Celery
reconnects to the broker the loop does not run: ``reconnect_watch.py`` tells
the probe, for as long as the reconnect makes progress.
"""

from typing import Any

from ..config import settings
from ..liveness import beat, clear_outage
from .reconnect_watch import ReconnectWatch


def beat_from_the_consumer_loop(sender: Any, **_: Any) -> None:
    if settings.heartbeat_file is None:
        return
    clear_outage()  # a note left by a worker that ran here before
    beat()
    # worker_ready comes once, after the event loop registered its own timer
    # entries: Celery cancels those at a reconnect, never this one.
    sender.timer.call_repeatedly(settings.heartbeat_every, beat)
    ReconnectWatch(sender, settings.heartbeat_every).start()

"""The worker's heartbeat (``liveness.py``), refreshed by its consumer's event loop.

That loop takes tasks from the broker and hands them to the pool: it keeps
beating while a pool process runs a long task, and stops if the loop hangs.
With the solo pool the task runs in that loop, so a long task stops the beat:
give the probe a window longer than the longest task, or use prefork. On the
embedded SQLite broker Celery polls instead, with its timer in a thread of
its own: there the beat only says that the process lives.
"""

from typing import Any

from ..config import settings
from ..liveness import beat


def beat_from_the_consumer_loop(sender: Any, **_: Any) -> None:
    if settings.heartbeat_file is None:
        return
    beat()
    sender.timer.call_repeatedly(settings.heartbeat_every, beat)

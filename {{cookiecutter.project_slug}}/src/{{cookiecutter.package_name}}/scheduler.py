"""Celery beat's scheduler, which beats for the liveness probe (``liveness.py``) at every tick.

Beat writes no heartbeat of its own. Its loop calls ``tick()``, which sends
the tasks that are due, then sleeps until the next is due, for at most
``max_interval`` (``beat_max_loop_interval``, 300 s by default). With
HEARTBEAT_FILE set that sleep is capped at HEARTBEAT_EVERY, so the beat is as
regular as a worker's, and a beat process that hangs stops it. Selected with
``celery beat --scheduler {{ cookiecutter.package_name }}.scheduler:BeatingScheduler``.
"""

from typing import Any

from celery.beat import PersistentScheduler

from .config import settings
from .liveness import beat


class BeatingScheduler(PersistentScheduler):
    """The default scheduler (the schedule kept in ``--schedule``'s file), plus the heartbeat."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if settings.heartbeat_file is not None:
            # Celery takes any number of seconds here; its stubs say int.
            longest = min(self.max_interval or settings.heartbeat_every, settings.heartbeat_every)
            self.max_interval = longest  # type: ignore[assignment]

    def tick(self, *args: Any, **kwargs: Any) -> float:
        beat()
        return float(super().tick(*args, **kwargs))

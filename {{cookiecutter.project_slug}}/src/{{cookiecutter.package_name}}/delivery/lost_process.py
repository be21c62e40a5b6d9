"""What the worker says and stores when a task's process dies under it.

Celery hands such a task back to the broker (late acks, reject on worker
lost). The broker's delivery count bounds how often: each broker's
``delivery_count.py`` reads it, this module reports it.
"""

import logging
from typing import Any

from billiard.einfo import ExceptionInfo, ExceptionWithTraceback  # type: ignore[attr-defined]
from celery.app.task import Context
from celery.exceptions import WorkerLostError
from celery.worker.request import Request

from ..config import settings
from ..telemetry.task_metrics import count_lost_run
from .broker import dead_queue

logger = logging.getLogger(__name__)


class TaskIsDead(Exception):
    """The result of a dead task, for whoever polls it: the task will not run again on its own."""


def how_to_requeue(task_id: str) -> str:
    return f"python -m {__name__.partition('.')[0]}.dead_tasks requeue {task_id}"


def lost_its_process(exc_info: ExceptionInfo) -> bool:
    error = exc_info.exception
    if isinstance(error, ExceptionWithTraceback):  # how billiard hands it over
        error = error.exc
    return isinstance(error, WorkerLostError)


class LostProcessReportingRequest(Request):
    """A request that reports each lost process, and gives up at the last delivery."""

    def delivery(self) -> int:
        """Which delivery of its message this is: 1, then 2 after a lost process, ..."""
        raise NotImplementedError

    def give_up(self, why: str) -> None:
        """Declare the task dead; the broker moves it to the dead-task queue."""
        logger.error(
            "task %s[%s] is dead: %s. It waits in queue %s; send it again with: %s",
            *(self.task_name, self.id, why, dead_queue(settings.celery_queue).name),
            how_to_requeue(self.id),
        )
        self.task.backend.mark_as_failure(
            self.id, TaskIsDead(why), request=Context(self.request_dict)
        )

    def on_failure(self, exc_info: ExceptionInfo, *args: Any, **kwargs: Any) -> None:
        # Runs in the worker's main process, which outlives the child that died.
        if lost_its_process(exc_info):
            count_lost_run(self.task_name)
            self.report_lost_process()
        super().on_failure(exc_info, *args, **kwargs)

    def report_lost_process(self) -> None:
        delivery, limit = self.delivery(), settings.task_max_deliveries
        if delivery < limit:
            logger.warning(
                "task %s[%s] lost its worker process on delivery %d of %d; back to the queue",
                *(self.task_name, self.id, delivery, limit),
            )
            return
        self.give_up(f"its worker process died on each of its {delivery} deliveries")

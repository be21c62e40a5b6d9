"""Worker log lines name the task that wrote them, whichever logger wrote them."""

import logging
from typing import Any

from celery import current_task
from celery.signals import after_setup_logger, after_setup_task_logger
from celery.utils.log import ColorFormatter

from ..config import settings

# Celery's default worker format, with the task (if any) before the message.
LOG_FORMAT = "[%(asctime)s: %(levelname)s/%(processName)s]%(task)s %(message)s"


class TaskContextFormatter(ColorFormatter):
    """Adds " task.name[task-id]:" to records logged while a task runs."""

    def format(self, record: logging.LogRecord) -> str:
        running = bool(current_task) and current_task.request.id is not None
        # Celery's own lines about a task ("Task x[id] succeeded") name it already.
        named = record.name.startswith("celery.")
        task = f" {current_task.name}[{current_task.request.id}]:" if running else ""
        record.task = "" if named else task
        return super().format(record)


@after_setup_logger.connect
@after_setup_task_logger.connect
def use_task_aware_logging(logger: logging.Logger, **_: Any) -> None:
    """Every handler gets the task-aware format; LOG_LEVEL sets the level (not --loglevel)."""
    for handler in logger.handlers:
        use_color = isinstance(handler.formatter, ColorFormatter) and handler.formatter.use_color
        handler.setFormatter(TaskContextFormatter(LOG_FORMAT, use_color=use_color))
    logger.setLevel(settings.log_level)

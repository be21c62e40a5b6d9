"""Worker log lines name the task and the trace that wrote them, whichever logger wrote them."""

import logging
from typing import Any

from celery.utils.log import ColorFormatter

from ..config import settings
from ..telemetry.logs import RunningContext, json_formatter

# Celery's default worker format, with the task and the trace (if any) before the message.
LOG_FORMAT = "[%(asctime)s: %(levelname)s/%(processName)s]%(task)s%(trace)s %(message)s"


class TaskContextFormatter(ColorFormatter):
    """Adds " task.name[task-id]:" to records logged while a task runs."""

    def format(self, record: logging.LogRecord) -> str:
        task_id = getattr(record, "task_id", None)
        # Celery's own lines about a task ("Task x[id] succeeded") name it already.
        named = record.name.startswith("celery.")
        task_name = getattr(record, "task_name", None)
        record.task = "" if named or task_id is None else f" {task_name}[{task_id}]:"
        return super().format(record)


def use_task_aware_logging(logger: logging.Logger, **_: Any) -> None:
    """Every handler gets the ids and LOG_FORMAT; LOG_LEVEL sets the level (not --loglevel)."""
    for handler in logger.handlers:
        handler.addFilter(RunningContext())
        if settings.log_format == "json":
            handler.setFormatter(json_formatter())
            continue
        use_color = isinstance(handler.formatter, ColorFormatter) and handler.formatter.use_color
        handler.setFormatter(TaskContextFormatter(LOG_FORMAT, use_color=use_color))
    logger.setLevel(settings.log_level)

"""Worker log lines that say which task wrote them, at the level settings ask for.

Celery adds the task's name and id only to loggers made with
``get_task_logger``. Lines from any other logger (this package's modules,
SQLAlchemy, your libraries) would not say which task they came from; here every
handler of the worker gets a formatter that adds it whenever a task is running.
"""

import logging

from celery import current_task
from celery.utils.log import ColorFormatter

# Celery's default worker format, with the task (if any) before the message.
LOG_FORMAT = "[%(asctime)s: %(levelname)s/%(processName)s]%(task)s %(message)s"


class TaskContextFormatter(ColorFormatter):
    """Adds " task.name[task-id]:" to records logged while a task runs."""

    def format(self, record: logging.LogRecord) -> str:
        # current_task is a proxy: false outside a task.
        running = bool(current_task) and current_task.request.id is not None
        # Celery's own lines about a task ("Task x[id] succeeded") name it already.
        named = record.name.startswith("celery.")
        task = f" {current_task.name}[{current_task.request.id}]:" if running else ""
        record.task = "" if named else task
        return super().format(record)


def configure_worker_logging(logger: logging.Logger, level: str) -> None:
    """Give ``logger``'s handlers the task-aware format, and set its level."""
    for handler in logger.handlers:
        use_color = isinstance(handler.formatter, ColorFormatter) and handler.formatter.use_color
        handler.setFormatter(TaskContextFormatter(LOG_FORMAT, use_color=use_color))
    logger.setLevel(level)

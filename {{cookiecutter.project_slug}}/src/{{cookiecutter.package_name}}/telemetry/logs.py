"""Log lines that lead to their trace: the trace id on each, and the task's in a worker.

``LOG_FORMAT=json`` writes one JSON object a line (python-json-logger), for a
log store that indexes fields; ``text``, the default, is for people.
"""

import logging
from collections.abc import Sequence

from celery import current_task
from opentelemetry import trace
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

from ..config import settings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s:%(trace)s %(message)s"
JSON_FIELDS = ("asctime", "levelname", "name", "processName", "message")
JSON_NAMES = {"asctime": "time", "levelname": "level", "name": "logger", "processName": "process"}
# What the text formats use; the JSON lines carry the ids as fields of their own.
TEXT_ONLY = ("trace", "task", "color_message")


class RunningContext(logging.Filter):
    """Adds ``trace_id``, ``span_id``, ``task_id`` and ``task_name`` to each record, or None."""

    def filter(self, record: logging.LogRecord) -> bool:
        span = trace.get_current_span().get_span_context()
        trace_id = format(span.trace_id, "032x") if span.is_valid else None
        record.trace_id = trace_id
        record.span_id = format(span.span_id, "016x") if span.is_valid else None
        record.trace = f" trace={trace_id}" if trace_id else ""
        running = bool(current_task) and current_task.request.id is not None
        record.task_id = current_task.request.id if running else None
        record.task_name = current_task.name if running else None
        return True


def json_formatter() -> logging.Formatter:
    return JsonFormatter(
        list(JSON_FIELDS),
        rename_fields=JSON_NAMES,
        reserved_attrs=[*RESERVED_ATTRS, *TEXT_ONLY],
    )


def configure_logging(server_loggers: Sequence[str] = ()) -> None:
    """Every line through one handler: LOG_FORMAT and LOG_LEVEL.

    ``server_loggers``: the web server's own loggers, which do not pass their
    lines to the root logger.
    """
    handler = logging.StreamHandler()
    handler.addFilter(RunningContext())
    if settings.log_format == "json":
        handler.setFormatter(json_formatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=settings.log_level, handlers=[handler], force=True)
    for name in server_loggers:
        server_logger = logging.getLogger(name)
        if server_logger.handlers:
            server_logger.handlers = [handler]

"""``add_to_outbox``: a task written in the caller's transaction, checked now, sent by the relay."""

import json
import math
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session, scoped_session

from ..config import settings
from ..telemetry.tracing import current_trace_context
from .model import OutboxMessage

# As long as the broker can hold a task back (broker_settings.py).
MAX_COUNTDOWN = settings.longest_countdown
# Furthest ahead a task may expire; beyond it dates overflow.
MAX_EXPIRES = 366 * 24 * 3600.0
# The protocol limits Celery's messages keep to on every broker: a queue name is
# at most 255 bytes, priorities run 0 to 255.
MAX_QUEUE_NAME = 255
MAX_PRIORITY = 255


def require_seconds(name: str, value: object, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"option {name!r} must be a number of seconds, not {value!r}")
    if not math.isfinite(value) or not low <= value <= high:
        raise ValueError(f"option {name!r} must be between {low:g} and {high:g}, not {value!r}")


def require_queue(value: object) -> None:
    if not isinstance(value, str):
        raise TypeError(f"option 'queue' must be a string, not {value!r}")
    if not 0 < len(value.encode()) <= MAX_QUEUE_NAME:
        raise ValueError(f"option 'queue' must be 1 to {MAX_QUEUE_NAME} bytes, not {value!r}")


def require_priority(value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"option 'priority' must be an integer, not {value!r}")
    if not 0 <= value <= MAX_PRIORITY:
        raise ValueError(f"option 'priority' must be between 0 and {MAX_PRIORITY}, not {value!r}")


def require_publishable(options: Mapping[str, Any]) -> None:
    """Refuse now what the relay could never publish: it would only become a dead letter."""
    for name, value in options.items():
        if name == "queue":
            require_queue(value)
        elif name == "countdown":
            require_seconds(name, value, 0, MAX_COUNTDOWN)
        elif name == "expires":
            require_seconds(name, value, 0, MAX_EXPIRES)
        elif name == "priority":
            require_priority(value)
        else:
            raise TypeError(
                f"option {name!r} cannot go through the outbox;"
                " use queue, countdown, expires or priority"
            )


def add_to_outbox(
    session: Session | scoped_session[Session],
    task_name: str,
    args: Sequence[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
    **options: Any,
) -> str:
    """Add a message for ``task_name`` to ``session``; return its Celery task id.

    The caller's commit stores it with the data, a rollback drops both.
    ``options``: ``queue``, ``countdown`` (from the publish), ``expires``,
    ``priority``. What could never be published raises ``TypeError`` or
    ``ValueError`` here, not later in the relay.
    """
    if not isinstance(task_name, str) or not 0 < len(task_name) <= 255:
        raise ValueError(f"task_name must be a name of 1 to 255 characters, not {task_name!r}")
    if not isinstance(args, list | tuple):
        raise TypeError(f"args must be a list or a tuple, not {type(args).__name__}")
    require_publishable(options)
    kwargs = dict(kwargs or {})
    # allow_nan=False: NaN and Infinity are not JSON, which a database's JSON type refuses.
    json.dumps([args, kwargs], allow_nan=False)
    task_id = str(uuid.uuid4())
    session.add(
        OutboxMessage(
            task_id=task_id,
            task_name=task_name,
            args=list(args),
            kwargs=kwargs,
            options=options,
            trace_context=current_trace_context() or None,
        )
    )
    return task_id

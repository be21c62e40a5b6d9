"""The bodies every route shares."""

from typing import Any

from pydantic import BaseModel


class TaskStatus(BaseModel):
    """``state`` is PENDING both for a task not started yet and for an id no task has."""

    id: str
    state: str
    retries: int | None = None
    result: Any = None
    error: str | None = None


class Problem(BaseModel):
    """Every error answer: what went wrong, in words."""

    detail: str

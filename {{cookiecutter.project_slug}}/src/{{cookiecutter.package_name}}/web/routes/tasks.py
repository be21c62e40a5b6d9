"""``/tasks``: a task's state and outcome, by its id."""

import uuid

from fastapi import APIRouter, HTTPException, status

from ..schemas import Problem, TaskStatus
from ..task_status import ResultsNotShared, read_task_status

router = APIRouter(prefix="/tasks")


@router.get("/{task_id}", responses={501: {"model": Problem}})
def read_task(task_id: uuid.UUID) -> TaskStatus:
    try:
        return read_task_status(str(task_id))
    except ResultsNotShared as error:
        raise HTTPException(status.HTTP_501_NOT_IMPLEMENTED, str(error)) from error

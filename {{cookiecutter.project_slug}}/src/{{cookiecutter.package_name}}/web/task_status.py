"""A task's state and outcome, read from the result backend by its id."""

from celery.backends.rpc import RPCBackend
from celery.result import AsyncResult

from ..celery import app
from .schemas import TaskStatus


class ResultsNotShared(Exception):
    """The result backend reports a task only to the process that sent it."""

    def __str__(self) -> str:
        return (
            "task states are not stored: with CELERY_RESULT_BACKEND=rpc:// a result goes"
            " back only to the process that sent the task; store results where every"
            " process reads them, such as the database (db+<database URL>), to read them here"
        )


def read_task_status(task_id: str) -> TaskStatus:
    if isinstance(app.backend, RPCBackend):
        raise ResultsNotShared
    result: AsyncResult = AsyncResult(task_id, app=app)  # type: ignore[type-arg]
    state = result.state  # one read of the backend; the fields below reuse it
    status = TaskStatus(id=task_id, state=state, retries=result.retries)
    if result.successful():
        status.result = result.result
    elif result.failed():
        error = result.result
        status.error = f"{type(error).__name__}: {error}"
    return status

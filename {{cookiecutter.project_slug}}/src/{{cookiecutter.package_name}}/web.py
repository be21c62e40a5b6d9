"""The HTTP API: ``uvicorn {{ cookiecutter.package_name }}.web:app`` (``make web``).

Each request gets a session of its own, closed when the request ends; the
handler that writes commits it. Tasks about the request's data are sent after
that commit (``register_user``), so a worker never looks before the data is
there, and a request that fails sends nothing.

The handlers are plain ``def``: FastAPI runs them in its thread pool, each
thread with its own connection from the engine's pool.
"""

import logging
import uuid
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Path, Request, status
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from .db import session_factory
from .health import service_checks
from .models import User
from .schemas import NewUser, Problem, TaskStatus, UserCreated, UserOut
from .task_status import ResultsNotShared, read_task_status
from .transient_errors import is_transient
from .users import EmailTaken, register_user

logger = logging.getLogger(__name__)

# users.id is a 32-bit integer on every database.
UserId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def get_session() -> Iterator[Session]:
    with session_factory() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]

app = FastAPI(
    title={{ cookiecutter.project_name | tojson }},
    description={{ cookiecutter.description | tojson }},
)


@app.exception_handler(SQLAlchemyError)
def database_unavailable(_: Request, error: SQLAlchemyError) -> JSONResponse:
    """A database that is down, restarting or overloaded answers 503, not 500."""
    if not is_transient(error):
        raise error
    logger.warning("database unavailable: %s", error)
    return JSONResponse(
        {"detail": "the database is unavailable; try again later"},
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
    )


@app.post(
    "/users",
    status_code=status.HTTP_201_CREATED,
    responses={
        400: {"model": Problem, "description": "The body is not JSON"},
        409: {"model": Problem, "description": "The email is taken"},
    },
)
def create_user(new_user: NewUser, session: SessionDep) -> UserCreated:
    """Create a user, and look it up with a task sent once the user is committed."""
    try:
        user, result = register_user(session, new_user.name, new_user.email)
    except EmailTaken as error:
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"a user with email {error} already exists"
        ) from error
    return UserCreated(id=user.id, task_id=result.id)


@app.get("/users/{user_id}", responses={404: {"model": Problem}})
def read_user(user_id: UserId, session: SessionDep) -> UserOut:
    user = session.get(User, user_id)
    if user is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no user with id {user_id}")
    return UserOut.model_validate(user)


@app.get("/tasks/{task_id}", responses={501: {"model": Problem}})
def read_task(task_id: uuid.UUID) -> TaskStatus:
    """Celery's task ids are UUIDs: anything else is refused before the backend is asked."""
    try:
        return read_task_status(str(task_id))
    except ResultsNotShared as error:
        raise HTTPException(status.HTTP_501_NOT_IMPLEMENTED, str(error)) from error


@app.get("/health", responses={503: {"description": "A server does not answer"}})
def health() -> JSONResponse:
    """200 when the database and the broker answer; 503 names the one that does not."""
    checks = service_checks()
    healthy = all(state == "ok" for state in checks.values())
    return JSONResponse(checks, status_code=200 if healthy else 503)

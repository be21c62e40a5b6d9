"""The FastAPI app: its error answers, ``/health`` and ``/tasks``, and each resource's routes.

The handlers are plain ``def``: FastAPI runs them in its thread pool, each
thread with its own connection.
"""

import logging
import uuid

from fastapi import FastAPI, HTTPException, Request, status
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from ..database.transient_errors import is_transient
from ..telemetry.logs import configure_logging
from ..telemetry.metrics import use_multiprocess_mode
from ..telemetry.tracing import start_tracing
from . import user_routes
from .health import service_checks
from .metrics import RequestMetrics, metrics_router
from .schemas import Problem, TaskStatus
from .task_status import ResultsNotShared, read_task_status

logger = logging.getLogger(__name__)

configure_logging(("uvicorn", "uvicorn.access"))
# Counts in files, as every process that serves GET /metrics (telemetry/metrics.py).
use_multiprocess_mode()
app = FastAPI(
    title={{ cookiecutter.project_name | tojson }},
    description={{ cookiecutter.description | tojson }},
)
app.include_router(user_routes.router)
app.include_router(metrics_router)
app.add_middleware(RequestMetrics)
# FastAPI traces each request itself, once start_tracing has set the provider.
start_tracing()


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


@app.get("/tasks/{task_id}", responses={501: {"model": Problem}})
def read_task(task_id: uuid.UUID) -> TaskStatus:
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

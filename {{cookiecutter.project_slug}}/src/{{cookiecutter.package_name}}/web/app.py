"""The FastAPI app: each resource's routes (``routes/``), the error answers, the metrics.

The handlers are plain ``def``: FastAPI runs them in its thread pool, each
thread with its own connection. ``/metrics`` is the plumbing's, in
``metrics.py`` beside the middleware that counts every request.
"""

import logging

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from ..database.transient_errors import is_transient
from ..telemetry.error_tracking import start_error_tracking
from ..telemetry.logs import configure_logging
from ..telemetry.metrics import use_multiprocess_mode
from ..telemetry.tracing import start_tracing
from .idempotent_post import Replayed, replay_answer
from .metrics import RequestMetrics, metrics_router
from .routes import health, tasks, users

logger = logging.getLogger(__name__)

configure_logging(("uvicorn", "uvicorn.access"))
# Before the app is made: the integration hooks into the framework as it starts.
start_error_tracking(web=True)
# Counts in files, as every process that serves GET /metrics (telemetry/metrics.py).
use_multiprocess_mode()
app = FastAPI(
    title={{ cookiecutter.project_name | tojson }},
    description={{ cookiecutter.description | tojson }},
)
app.include_router(health.router)
app.include_router(tasks.router)
app.include_router(users.router)
app.include_router(metrics_router)
app.add_middleware(RequestMetrics)
app.add_exception_handler(Replayed, replay_answer)
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

"""The Flask app: each resource's blueprint (``routes/``), the error answers, the metrics.

Each request uses this thread's ``db_session`` (Flask's "SQLAlchemy in Flask"
pattern), ended when the request's app context tears down. ``/metrics`` is the
plumbing's, in ``metrics.py`` beside the hooks that count every request.
"""

import logging

from flask import Flask, Response, request
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from ..database.transient_errors import is_transient
from ..db import end_session
from ..telemetry.error_tracking import start_error_tracking
from ..telemetry.logs import configure_logging
from ..telemetry.metrics import use_multiprocess_mode
from ..telemetry.tracing import start_tracing
from .metrics import metrics_blueprint
from .problems import problem
from .routes import health, tasks, users

logger = logging.getLogger(__name__)
request_log = logging.getLogger(f"{__package__}.requests")

configure_logging(("gunicorn.error", "gunicorn.access"))
# Before the app is made: the integration hooks into the framework as it starts.
start_error_tracking(web=True)
# Counts in files; under gunicorn its master set this up before forking (gunicorn_config.py).
use_multiprocess_mode()
app = Flask(__name__)
app.register_blueprint(health.blueprint)
app.register_blueprint(tasks.blueprint)
app.register_blueprint(users.blueprint)
app.register_blueprint(metrics_blueprint)
if start_tracing():
    from opentelemetry.instrumentation.flask import FlaskInstrumentor

    FlaskInstrumentor().instrument_app(app)  # type: ignore[no-untyped-call]


@app.after_request
def log_request(response: Response) -> Response:
    # Logged here, not by gunicorn after the response: the request's span is
    # still current, so the line carries its trace id.
    request_log.info("%s %s %s", request.method, request.full_path.rstrip("?"), response.status)
    return response


@app.teardown_appcontext
def end_request_session(_: BaseException | None) -> None:
    end_session()


@app.errorhandler(HTTPException)
def http_error_as_json(error: HTTPException) -> tuple[Response, int]:
    return problem(error.description, error.code or 500)


@app.errorhandler(ValidationError)
def invalid_body(error: ValidationError) -> tuple[Response, int]:
    # pydantic's list of errors, without the input: it may be bytes JSON cannot carry.
    errors = error.errors(include_url=False, include_context=False, include_input=False)
    return problem(errors, 422)


@app.errorhandler(SQLAlchemyError)
def database_unavailable(error: SQLAlchemyError) -> tuple[Response, int]:
    """A database that is down, restarting or overloaded answers 503, not 500."""
    if not is_transient(error):
        raise error
    logger.warning("database unavailable: %s", error)
    return problem("the database is unavailable; try again later", 503)

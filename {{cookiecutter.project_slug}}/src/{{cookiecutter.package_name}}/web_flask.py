"""The HTTP API: ``gunicorn {{ cookiecutter.package_name }}.web:app`` (``make web``).

Each request uses this thread's ``db_session`` (the pattern of Flask's
"SQLAlchemy in Flask" page), ended when the request's app context tears down,
whatever happened; the handler that writes commits it. Tasks about the
request's data are sent after that commit (``register_user``), so a worker
never looks before the data is there, and a request that fails sends nothing.
"""

import logging
from typing import Any

from flask import Flask, Response, jsonify, request
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from .db import db_session, end_session
from .health import service_checks
from .models import User
from .schemas import NewUser, UserCreated, UserOut
from .task_status import ResultsNotShared, read_task_status
from .transient_errors import is_transient
from .users import EmailTaken, register_user

logger = logging.getLogger(__name__)

app = Flask(__name__)


def problem(detail: Any, status: int) -> tuple[Response, int]:
    return jsonify(detail=detail), status


@app.teardown_appcontext
def end_request_session(_: BaseException | None) -> None:
    end_session()


@app.errorhandler(HTTPException)
def http_error_as_json(error: HTTPException) -> tuple[Response, int]:
    return problem(error.description, error.code or 500)


@app.errorhandler(ValidationError)
def invalid_body(error: ValidationError) -> tuple[Response, int]:
    # FastAPI's 422 shape: where each problem is, and what it is. Without the
    # input, which may be bytes that JSON cannot carry back.
    errors = error.errors(include_url=False, include_context=False, include_input=False)
    return problem(errors, 422)


@app.errorhandler(SQLAlchemyError)
def database_unavailable(error: SQLAlchemyError) -> tuple[Response, int]:
    """A database that is down, restarting or overloaded answers 503, not 500."""
    if not is_transient(error):
        raise error
    logger.warning("database unavailable: %s", error)
    return problem("the database is unavailable; try again later", 503)


@app.post("/users")
def create_user() -> tuple[Response, int]:
    """Create a user, and look it up with a task sent once the user is committed."""
    if not request.is_json:
        return problem("send the user as JSON, with Content-Type: application/json", 415)
    new_user = NewUser.model_validate_json(request.get_data())
    try:
        user, result = register_user(db_session(), new_user.name, new_user.email)
    except EmailTaken as error:
        return problem(f"a user with email {error} already exists", 409)
    return jsonify(UserCreated(id=user.id, task_id=result.id).model_dump()), 201


# users.id is a 32-bit integer on every database.
@app.get("/users/<int(min=1, max=2147483647):user_id>")
def read_user(user_id: int) -> tuple[Response, int]:
    user = db_session.get(User, user_id)
    if user is None:
        return problem(f"no user with id {user_id}", 404)
    return jsonify(UserOut.model_validate(user).model_dump()), 200


@app.get("/tasks/<uuid:task_id>")
def read_task(task_id: object) -> tuple[Response, int]:
    try:
        status = read_task_status(str(task_id))
    except ResultsNotShared as error:
        return problem(str(error), 501)
    return jsonify(status.model_dump(mode="json")), 200


@app.get("/health")
def health() -> tuple[Response, int]:
    """200 when the database and the broker answer; 503 names the one that does not."""
    checks = service_checks()
    healthy = all(state == "ok" for state in checks.values())
    return jsonify(checks), 200 if healthy else 503

"""``/tasks``: a task's state and outcome, by its id."""

from flask import Blueprint, Response, jsonify

from ..problems import problem
from ..task_status import ResultsNotShared, read_task_status

blueprint = Blueprint("tasks", __name__, url_prefix="/tasks")


@blueprint.get("/<uuid:task_id>")
def read_task(task_id: object) -> tuple[Response, int]:
    try:
        status = read_task_status(str(task_id))
    except ResultsNotShared as error:
        return problem(str(error), 501)
    return jsonify(status.model_dump(mode="json")), 200

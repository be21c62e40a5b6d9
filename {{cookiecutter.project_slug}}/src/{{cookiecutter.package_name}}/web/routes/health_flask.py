"""``/health``: does each server the service needs answer?"""

from flask import Blueprint, Response, jsonify

from ..server_checks import service_checks

blueprint = Blueprint("health", __name__)


@blueprint.get("/health")
def health() -> tuple[Response, int]:
    """200 when the database and the broker answer; 503 names the one that does not."""
    checks = service_checks()
    healthy = all(state == "ok" for state in checks.values())
    return jsonify(checks), 200 if healthy else 503

"""``/health`` for people and dashboards, ``/health/ready`` for the readiness probe."""

from flask import Blueprint, Response, jsonify

from ..server_checks import service_checks

blueprint = Blueprint("health", __name__)


@blueprint.get("/health")
def health() -> tuple[Response, int]:
    """200 when the database and the broker answer; 503 names the one that does not."""
    checks = service_checks()
    healthy = all(state == "ok" for state in checks.values())
    return jsonify(checks), 200 if healthy else 503


@blueprint.get("/health/ready")
def ready() -> dict[str, str]:
    """200 while this process serves; it checks no server every pod shares.

    Answered by any free thread of the worker (``threads`` in
    gunicorn_config.py). Once gunicorn has had SIGTERM it accepts no new
    connection, so the probe fails while it drains.
    """
    return {"status": "ready"}

"""``GET /metrics``, and every request counted by its route's template."""

import re
import time

from flask import Blueprint, Response, g, request

from ..celery import app as celery_app
from ..delivery.queue_lengths import QueueLengths
from ..outbox.gauges import OutboxGauges
from ..telemetry.http_metrics import count_request
from ..telemetry.metrics import metrics_page

metrics_blueprint = Blueprint("metrics", __name__)

# /users/<int:user_id> labelled /users/{user_id}, as the API's description writes it.
CONVERTER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


@metrics_blueprint.get("/metrics")
def metrics() -> Response:
    """Prometheus's text format: requests, and the queue's and the outbox's state."""
    body, content_type = metrics_page(QueueLengths(celery_app), OutboxGauges())
    return Response(body, content_type=content_type)


@metrics_blueprint.before_app_request
def start_the_clock() -> None:
    g.request_started = time.perf_counter()


@metrics_blueprint.after_app_request
def count_the_request(response: Response) -> Response:
    # Runs for error answers too, the 500 of an unhandled exception included.
    route = CONVERTER.sub(r"{\1}", request.url_rule.rule) if request.url_rule else None
    seconds = time.perf_counter() - g.get("request_started", time.perf_counter())
    count_request(request.method, route, response.status_code, seconds)
    return response

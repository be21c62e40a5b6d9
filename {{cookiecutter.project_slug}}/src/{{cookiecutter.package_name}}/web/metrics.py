"""``GET /metrics``, and every request counted by its route's template."""

import time

from fastapi import APIRouter, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..celery import app as celery_app
from ..delivery.queue_lengths import QueueLengths
from ..outbox.gauges import OutboxGauges
from ..telemetry.http_metrics import count_request
from ..telemetry.metrics import metrics_page

metrics_router = APIRouter()


@metrics_router.get("/metrics", include_in_schema=False)
def metrics() -> Response:
    """Prometheus's text format: requests, and the queue's and the outbox's state."""
    body, content_type = metrics_page(QueueLengths(celery_app), OutboxGauges())
    return Response(body, media_type=content_type)


class RequestMetrics:
    """ASGI middleware: each request counted once answered, or once it failed (500)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            # The router has put the matched route in the scope by now.
            route = getattr(scope.get("route"), "path", None)
            count_request(scope["method"], route, status, time.perf_counter() - started)

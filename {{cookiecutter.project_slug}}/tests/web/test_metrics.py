"""``GET /metrics``: every request counted by route and status, and the work waiting.

The counts add up every web process (gunicorn runs two), and the queue's
length is there while no worker runs.
"""

import uuid
from concurrent.futures import ThreadPoolExecutor

from ..support.metrics import scrape
from ..support.probe_tasks import insert_record
from ..support.web_server import web_server

REQUESTS = "http_requests_total"
DURATIONS = "http_request_duration_seconds_count"
HEALTH_CHECKS = 24


def test_requests_are_counted_by_route_and_status_and_the_queue_is_measured(
    unwatched_queue: str,
) -> None:
    with (
        web_server("metrics", {"CELERY_QUEUE": unwatched_queue}) as server,
        server.client() as client,
    ):
        # The server's start was checked with a request too.
        before = scrape(f"{server.url}/metrics")
        # Many at once, so that every web process answers some.
        with ThreadPoolExecutor(max_workers=8) as pool:
            checks = list(pool.map(lambda _: client.get("/health"), range(HEALTH_CHECKS)))
        assert {check.status_code for check in checks} == {200}
        # Two ids, one route: 200, or 501 where results are not shared.
        statuses = {client.get(f"/tasks/{uuid.uuid4()}").status_code for _ in range(2)}
        assert client.get("/no/such/page").status_code == 404
        for n in range(2):
            insert_record.apply_async((f"waiting {n}",), queue=unwatched_queue)
        metrics = scrape(f"{server.url}/metrics")

    def counted(name: str, **labels: str) -> float:
        return metrics.value(name, **labels) - before.value(name, **labels)

    assert counted(REQUESTS, method="GET", route="/health", status="200") == HEALTH_CHECKS
    assert counted(DURATIONS, method="GET", route="/health", status="200") == HEALTH_CHECKS
    (status,) = statuses
    assert counted(REQUESTS, method="GET", route="/tasks/{task_id}", status=str(status)) == 2
    assert counted(REQUESTS, method="GET", route="unmatched", status="404") == 1
    # No worker consumes this queue: both tasks wait there.
    assert metrics.value("celery_queue_length", queue=unwatched_queue) == 2
    assert metrics.value("outbox_dead_messages") == 0

"""``GET /metrics``: every request counted by route and status, and the work waiting.

The counts add up every web process (gunicorn runs two), and the queue's
length is there while no worker runs.
"""

import uuid
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy.orm import Session, scoped_session

from ..support.metrics import scrape
from ..support.web_server import web_server

REQUESTS = "http_requests_total"
HEALTH_CHECKS = 24


def new_user() -> dict[str, str]:
    return {"name": "Grace Hopper", "email": f"{uuid.uuid4().hex[:12]}@example.com"}


def test_requests_are_counted_by_route_and_status_and_the_queue_is_measured(
    unwatched_queue: str, session: scoped_session[Session]
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
        created = [client.post("/users", json=new_user()) for _ in range(2)]
        assert [answer.status_code for answer in created] == [201, 201]
        assert client.get(f"/users/{created[0].json()['id']}").status_code == 200
        assert client.get("/users/999999999").status_code == 404
        assert client.post("/users", json={"name": "no email"}).status_code == 422
        assert client.get("/no/such/page").status_code == 404
        metrics = scrape(f"{server.url}/metrics")

    def answered(method: str, route: str, status: int) -> float:
        labels = {"method": method, "route": route, "status": str(status)}
        return metrics.value(REQUESTS, **labels) - before.value(REQUESTS, **labels)

    assert answered("GET", "/health", 200) == HEALTH_CHECKS
    assert answered("POST", "/users", 201) == 2
    assert answered("GET", "/users/{user_id}", 200) == 1
    assert answered("GET", "/users/{user_id}", 404) == 1
    assert answered("POST", "/users", 422) == 1
    assert answered("GET", "unmatched", 404) == 1
    durations = "http_request_duration_seconds_count"
    assert (
        metrics.value(durations, route="/health") - before.value(durations, route="/health")
        == HEALTH_CHECKS
    )
    # Each signup's task, waiting: no worker consumes this queue.
    assert metrics.value("celery_queue_length", queue=unwatched_queue) == 2
    assert metrics.value("outbox_dead_messages") == 0

"""``GET /health/ready`` answers at once while requests hold the whole pool; ``/health`` soon.

Readiness is the probe Kubernetes sends every 5 s with a 1 s timeout
(deploy/kubernetes/web.yaml): a probe that waited for a pooled connection
would take a busy pod, then every busy pod, out of the Service.
"""

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from ..support.held_rows import held_emails, lock_waiters
from ..support.waiting import wait_until
from ..support.web_server import HEALTH_WITHIN, READY_WITHIN, web_server

# One web process with one pooled connection: two sign-ups hold the whole pool,
# one with the connection, waiting for a held row, the other waiting for it.
ONE_CONNECTION = {"DB_POOL_SIZE": "1", "DB_MAX_OVERFLOW": "0", "WEB_WORKERS": "1"}


def timed_get(client: httpx.Client, path: str, timeout: float) -> tuple[httpx.Response, float]:
    """The answer and the seconds it took; a slower one fails the test with ReadTimeout."""
    started = time.monotonic()
    answer = client.get(path, timeout=timeout)
    return answer, time.monotonic() - started


@pytest.mark.usefixtures("database_server", "session")
def test_readiness_answers_at_once_while_requests_hold_the_whole_pool(
    database_url: str, unwatched_queue: str
) -> None:
    emails = [f"{uuid.uuid4().hex[:12]}@example.com" for _ in range(2)]
    env = {**ONE_CONNECTION, "CELERY_QUEUE": unwatched_queue}
    with (
        web_server("readiness", env) as web,
        web.client() as client,
        ThreadPoolExecutor(len(emails)) as pool,
    ):
        with held_emails(database_url, emails):
            signups = [
                pool.submit(client.post, "/users", json={"name": "Slow", "email": email})
                for email in emails
            ]
            wait_until(lambda: lock_waiters(database_url) == 1, "a sign-up to wait on its row")

            ready, took = timed_get(client, "/health/ready", timeout=5 * READY_WITHIN)
            assert (ready.status_code, ready.json()) == (200, {"status": "ready"})
            assert took < READY_WITHIN
            # /health checks through a connection of its own, not the request pool.
            health, took = timed_get(client, "/health", timeout=5 * HEALTH_WITHIN)
            assert health.json() == {"database": "ok", "broker": "ok"}
            assert took < HEALTH_WITHIN

        # The held rows rolled back: both sign-ups go through, one after the other.
        assert [signup.result().status_code for signup in signups] == [201, 201]

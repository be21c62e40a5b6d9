"""The web server stopped as Kubernetes stops a pod: no request that reached it fails.

The test plays a pod's deletion, in the order Kubernetes runs it:

1. The pod is marked terminating; the Service's proxies stop sending it new
   requests within PROPAGATION. Here the test's client is those proxies: it
   keeps sending until then.
2. Meanwhile the preStop sleeps (web.yaml's 5 s; PRE_STOP here, to be quick)
   and the server keeps serving.
3. SIGTERM: the server stops accepting (readiness fails), and the requests in
   flight (one, held by a row lock until after the signal) finish within its
   graceful timeout, before the server exits.

What it cannot show is the cluster's own delay: kube-proxy's or an Ingress
controller's. A preStop shorter than that delay loses the requests sent
after SIGTERM: with PRE_STOP = 0 here they are refused or reset.
"""

import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from signal import SIGTERM

import httpx
import pytest
from sqlalchemy.orm import Session, scoped_session

from {{ cookiecutter.package_name }}.models import User

from ..support.held_rows import held_emails, lock_waiters
from ..support.processes import ChildProcess
from ..support.waiting import wait_until
from ..support.web_server import web_server

# How long the Service's proxies keep sending once the pod is terminating.
PROPAGATION = 1.0
# Longer than PROPAGATION, as web.yaml's preStop is longer than a cluster's.
PRE_STOP = 2.0
# How long the requests in flight at SIGTERM still wait for their rows.
IN_FLIGHT_AFTER_SIGTERM = 2.0
# make web's graceful timeout (checked against web.yaml by test_kubernetes_manifests.py).
GRACEFUL_TIMEOUT = 20


def server_pid(make: ChildProcess) -> int:
    """The server's process: ``make web``'s only child, which Kubernetes would run as PID 1."""
    pid = make.process.pid
    (child,) = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return int(child)


def is_ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health/ready", timeout=0.5).status_code == 200
    except httpx.HTTPError:  # refused, or accepted by a listener nobody serves
        return False


def send_until(stop: threading.Event, client: httpx.Client, path: str) -> tuple[int, list[str]]:
    """GET ``path`` until ``stop``: how many were sent, and what went wrong with each failure."""
    sent, failures = 0, []
    while not stop.is_set():
        sent += 1
        try:
            answer = client.get(path)
            if answer.status_code != 200:
                failures.append(f"{answer.status_code} {answer.text}")
        except httpx.HTTPError as error:
            failures.append(repr(error))
    return sent, failures


@pytest.mark.usefixtures("database_server")
def test_a_stopped_server_answers_every_request_it_was_sent(
    database_url: str, unwatched_queue: str, session: scoped_session[Session]
) -> None:
    user = User(name="Read", email=f"{uuid.uuid4().hex[:12]}@example.com")
    session.add(user)
    session.commit()
    held = f"{uuid.uuid4().hex[:12]}@example.com"
    stop_sending = threading.Event()
    with (
        web_server("draining", {"CELERY_QUEUE": unwatched_queue}) as web,
        web.client() as client,
        ThreadPoolExecutor(2) as pool,
    ):
        with held_emails(database_url, [held]):
            # One: two sign-ups waiting on neighbouring rows deadlock on MariaDB once released.
            in_flight = pool.submit(client.post, "/users", json={"name": "Slow", "email": held})
            wait_until(lambda: lock_waiters(database_url) == 1, "a request in flight")
            reads = pool.submit(send_until, stop_sending, client, f"/users/{user.id}")

            # The pod is terminating: the proxies stop after PROPAGATION,
            # the kubelet signals after PRE_STOP.
            threading.Timer(PROPAGATION, stop_sending.set).start()
            time.sleep(PRE_STOP)
            os.kill(server_pid(web.process), SIGTERM)
            signalled = time.monotonic()
            wait_until(lambda: not is_ready(web.url), "readiness to fail", timeout=5)
            time.sleep(max(0.0, signalled + IN_FLIGHT_AFTER_SIGTERM - time.monotonic()))

        assert in_flight.result().status_code == 201
        # Gone within its graceful timeout; the exit status is the server's way
        # of reporting SIGTERM, not the test's business.
        web.process.process.wait(GRACEFUL_TIMEOUT)
    sent, failures = reads.result()
    assert failures == []
    assert sent > 10

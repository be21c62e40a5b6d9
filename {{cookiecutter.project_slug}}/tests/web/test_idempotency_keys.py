"""``Idempotency-Key`` on ``POST /users``, over HTTP to ``make web``: a client can retry safely.

The answers' bodies are counted against the database and the broker: a
replay must add no user and send no task. The server sends its tasks to a
queue no worker takes, so that every message it sent is still there to count.
"""

import json
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, scoped_session

from {{ cookiecutter.package_name }}.celery import app
from {{ cookiecutter.package_name }}.config import settings
from {{ cookiecutter.package_name }}.database.purging import PURGE_BATCH
from {{ cookiecutter.package_name }}.db import session_factory
from {{ cookiecutter.package_name }}.idempotency_keys import IdempotencyKey
from {{ cookiecutter.package_name }}.models import User
from {{ cookiecutter.package_name }}.outbox.loop import Relay, relay_once
from {{ cookiecutter.package_name }}.relay import PURGES
from {{ cookiecutter.package_name }}.web.idempotency import fingerprint

from ..support.broker_state import delete_queue, messages_waiting
from ..support.environment import queue_of
from ..support.held_rows import held_emails, lock_waiters
from ..support.waiting import wait_until
from ..support.web_server import WebServer, web_server

HEADER = "Idempotency-Key"


@pytest.fixture(scope="module")
def queue(broker: str) -> Iterator[str]:
    name = queue_of(f"idempotency-{uuid.uuid4().hex[:8]}")
    yield name
    delete_queue(name)


@pytest.fixture(scope="module")
def server(database_url: str, queue: str) -> Iterator[WebServer]:
    with web_server("idempotency", {"CELERY_QUEUE": queue}) as running:
        yield running


@pytest.fixture
def client(server: WebServer, session: scoped_session[Session]) -> Iterator[httpx.Client]:
    """A client of ``server``; what its requests store is deleted after the test."""
    with server.client() as each:
        yield each


def new_user() -> dict[str, str]:
    return {"name": "Ada Lovelace", "email": f"{uuid.uuid4().hex[:12]}@example.com"}


def users_with_email(email: str) -> int:
    with session_factory() as session:
        return session.scalar(select(func.count()).where(User.email == email)) or 0


def database_now() -> datetime:
    with session_factory() as session:
        now: datetime = session.execute(select(func.now())).scalar_one()
        return now


def test_a_repeat_gets_the_first_answer_and_adds_no_user_and_no_task(
    client: httpx.Client, queue: str
) -> None:
    body, key = new_user(), str(uuid.uuid4())
    before = messages_waiting(queue)

    first = client.post("/users", json=body, headers={HEADER: key})
    again = client.post("/users", json=body, headers={HEADER: key})
    # The draft's form: a Structured Field string, in quotes; the same key.
    quoted = client.post("/users", json=body, headers={HEADER: f'"{key}"'})

    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    for repeat in (again, quoted):
        assert (repeat.status_code, repeat.json()) == (201, first.json())
        assert repeat.headers["Idempotent-Replayed"] == "true"
    assert users_with_email(body["email"]) == 1
    assert messages_waiting(queue) == before + 1


def test_the_same_key_with_another_request_answers_422_and_changes_nothing(
    client: httpx.Client, queue: str
) -> None:
    body, key = new_user(), str(uuid.uuid4())
    assert client.post("/users", json=body, headers={HEADER: key}).status_code == 201
    before = messages_waiting(queue)

    other = new_user()
    reused = client.post("/users", json=other, headers={HEADER: key})

    assert reused.status_code == 422, reused.text
    assert key in reused.json()["detail"]
    assert users_with_email(other["email"]) == 0
    assert messages_waiting(queue) == before


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("", id="empty"),
        pytest.param("a\tb", id="a tab"),
        pytest.param("k" * 256, id="too long"),
        pytest.param("caf\xe9", id="not ASCII"),
    ],
)
def test_a_malformed_key_answers_4xx_naming_the_header_and_stores_nothing(
    client: httpx.Client, key: str
) -> None:
    body = new_user()

    response = client.post("/users", json=body, headers={HEADER.encode(): key.encode("latin-1")})

    assert response.status_code in (400, 422), response.text
    assert HEADER in response.text
    assert users_with_email(body["email"]) == 0


def test_a_failed_request_stores_no_answer_and_its_retry_runs_again(
    client: httpx.Client, session: scoped_session[Session]
) -> None:
    body, key = new_user(), str(uuid.uuid4())
    assert client.post("/users", json=body).status_code == 201
    taken = client.post("/users", json=body, headers={HEADER: key})
    assert taken.status_code == 409, taken.text  # the email is taken: nothing committed
    session.execute(delete(User).where(User.email == body["email"]))
    session.commit()

    retried = client.post("/users", json=body, headers={HEADER: key})

    assert retried.status_code == 201, retried.text
    assert "Idempotent-Replayed" not in retried.headers


def test_a_repeat_while_the_first_runs_answers_409_at_once(
    database_url: str, server: WebServer, client: httpx.Client
) -> None:
    if make_url(database_url).get_backend_name() == "sqlite":
        pytest.skip("needs a database server: SQLite has no row lock to hold a request on")
    body, key = new_user(), str(uuid.uuid4())
    with ThreadPoolExecutor(max_workers=1) as pool, server.client() as other_client:
        with held_emails(database_url, [body["email"]]):
            # The first request has claimed the key, and waits on the email held here.
            first = pool.submit(other_client.post, "/users", json=body, headers={HEADER: key})
            wait_until(lambda: lock_waiters(database_url) == 1, "the first request to wait")
            started = time.monotonic()
            repeat = client.post("/users", json=body, headers={HEADER: key})
            waited = time.monotonic() - started
            assert not first.done(), "the first request ended while its email was held"
        first_answer = first.result(timeout=30)

    assert repeat.status_code == 409, repeat.text
    assert "in progress" in repeat.json()["detail"]
    assert waited < 5, f"the repeat waited {waited:.1f}s for the first request"
    assert first_answer.status_code == 201, first_answer.text
    replay = client.post("/users", json=body, headers={HEADER: key})
    assert (replay.status_code, replay.json()) == (201, first_answer.json())
    assert users_with_email(body["email"]) == 1


def test_a_running_claim_answers_409_and_an_abandoned_one_is_taken_over(
    client: httpx.Client, session: scoped_session[Session]
) -> None:
    body, key = new_user(), str(uuid.uuid4())
    content = json.dumps(body).encode()
    # The claim a request leaves while it runs, or if it dies before it answers.
    session.execute(
        insert(IdempotencyKey).values(
            key=key, fingerprint=fingerprint("POST", "/users", content), owner="died"
        )
    )
    session.commit()

    def post() -> httpx.Response:
        headers = {HEADER: key, "Content-Type": "application/json"}
        return client.post("/users", content=content, headers=headers)

    running = post()
    lease_ago = database_now() - timedelta(seconds=settings.idempotency_key_lease + 1)
    session.execute(
        update(IdempotencyKey).where(IdempotencyKey.key == key).values(claimed_at=lease_ago)
    )
    session.commit()
    abandoned = post()

    assert running.status_code == 409, running.text
    assert abandoned.status_code == 201, abandoned.text
    assert users_with_email(body["email"]) == 1
    assert post().json() == abandoned.json()


def add_expired_keys(session: scoped_session[Session], name: str, count: int) -> None:
    expired = database_now() - timedelta(seconds=settings.idempotency_key_retention + 60)
    rows = [
        {"key": f"{name}-{n}", "fingerprint": "-", "owner": "-", "created_at": expired}
        for n in range(count)
    ]
    session.execute(insert(IdempotencyKey), rows)
    session.commit()


def stored_keys() -> list[str]:
    with session_factory() as session:
        return list(session.scalars(select(IdempotencyKey.key)))


def test_the_relay_purges_keys_older_than_the_retention_in_batches(
    session: scoped_session[Session],
) -> None:
    session.execute(insert(IdempotencyKey).values(key="new", fingerprint="-", owner="-"))
    add_expired_keys(session, "once", PURGE_BATCH + 1)

    assert relay_once(app, PURGES) == 0  # what `python -m ...relay --once` runs
    once = stored_keys()
    add_expired_keys(session, "loop", 2)
    Relay(app, 1, PURGES).housekeeping()  # what the relay's loop runs once a minute

    assert once == ["new"]
    assert stored_keys() == ["new"]

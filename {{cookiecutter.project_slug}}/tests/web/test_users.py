"""The sample routes, ``POST /users`` and ``GET /users/{id}``, over HTTP with a real worker."""

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session, scoped_session

from {{ cookiecutter.package_name }}.db import session_factory
from {{ cookiecutter.package_name }}.models import User

from ..support.broker_state import messages_waiting
from ..support.environment import queue_of
from ..support.otlp_receiver import otlp_receiver
from ..support.results import result_of
from ..support.tcp_proxy import TcpProxy
from ..support.traces import CLIENT, CONSUMER, PRODUCER, SERVER, is_sql, run_span, spans_of
from ..support.waiting import wait_until
from ..support.web_server import web_server
from ..support.workers import ChildProcess, own_worker


def new_user(name: str = "Ada Lovelace") -> dict[str, str]:
    return {"name": name, "email": f"{uuid.uuid4().hex[:12]}@example.com"}


def users_with_email(email: str) -> int:
    with session_factory() as session:
        return session.scalar(select(func.count()).where(User.email == email)) or 0


def test_concurrent_signups_are_each_found_by_their_task_at_the_first_try(
    api: httpx.Client, worker: ChildProcess
) -> None:
    users = [new_user(f"User {n}") for n in range(20)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(lambda body: api.post("/users", json=body), users))

    assert [response.status_code for response in responses] == [201] * 20, [
        response.text for response in responses if response.status_code != 201
    ]
    for body, response in zip(users, responses, strict=True):
        created = response.json()
        # The task ran after the commit: it found the row without a retry.
        assert result_of(created["task_id"], worker) == {"id": created["id"], **body}
        assert api.get(f"/users/{created['id']}").json() == {"id": created["id"], **body}


def test_a_duplicate_email_answers_409_and_sends_no_task(
    unwatched_queue: str, session: scoped_session[Session]
) -> None:
    body = new_user()
    with (
        web_server("unwatched", {"CELERY_QUEUE": unwatched_queue}) as server,
        server.client() as client,
    ):
        assert client.post("/users", json=body).status_code == 201
        duplicate = client.post("/users", json={**body, "name": "Someone Else"})

    assert duplicate.status_code == 409
    assert body["email"] in duplicate.json()["detail"]
    assert users_with_email(body["email"]) == 1
    assert messages_waiting(unwatched_queue) == 1  # the first request's task only


def test_a_request_whose_commit_fails_stores_nothing_and_sends_nothing(
    database_url: str,
    database_proxy: TcpProxy,
    unwatched_queue: str,
    session: scoped_session[Session],
) -> None:
    body = new_user()
    proxy = database_proxy
    env = {"DATABASE_URL": proxy.url_through(database_url), "CELERY_QUEUE": unwatched_queue}
    with web_server("cut", env) as server, server.client() as client:
        # The connection drops before the server sees COMMIT: it rolls back.
        proxy.cut_once_before(b"COMMIT")
        failed = client.post("/users", json=body)
        assert proxy.cuts == 1
        assert failed.status_code == 503, failed.text
        assert users_with_email(body["email"]) == 0
        assert messages_waiting(unwatched_queue) == 0

        # The same request again, on a new connection, goes through.
        assert client.post("/users", json=body).status_code == 201
    assert messages_waiting(unwatched_queue) == 1


NOT_JSON = {"content": b"name=Ada&email=ada@example.com"}
BAD_BODIES: list[tuple[str, dict[str, Any], str]] = [
    ("not JSON", {**NOT_JSON, "headers": {"Content-Type": "application/json"}}, "JSON"),
    ("a form, not JSON", {**NOT_JSON, "headers": {"Content-Type": "text/plain"}}, ""),
    ("a list, not an object", {"json": [1, 2]}, ""),
    ("no name", {"json": {"email": "ada@example.com"}}, "name"),
    ("no email", {"json": {"name": "Ada"}}, "email"),
    ("a number for a name", {"json": {"name": 5, "email": "ada@example.com"}}, "name"),
    ("null for an email", {"json": {"name": "Ada", "email": None}}, "email"),
    ("an email without @", {"json": {"name": "Ada", "email": "ada.example.com"}}, "email"),
    ("an empty name", {"json": {"name": "", "email": "ada@example.com"}}, "name"),
    ("a blank name", {"json": {"name": "   ", "email": "ada@example.com"}}, "name"),
    ("a name too long", {"json": {"name": "A" * 101, "email": "ada@example.com"}}, "name"),
    ("a NUL in the name", {"json": {"name": "Ada\x00", "email": "ada@example.com"}}, "name"),
    (
        "an unknown field",
        {"json": {"name": "Ada", "email": "ada@example.com", "admin": True}},
        "admin",
    ),
]


@pytest.mark.parametrize(
    ("request_options", "named"),
    [pytest.param(options, named, id=what) for what, options, named in BAD_BODIES],
)
def test_bad_input_answers_4xx_naming_the_problem_and_stores_nothing(
    api: httpx.Client, request_options: dict[str, Any], named: str
) -> None:
    response = api.post("/users", **request_options)

    assert 400 <= response.status_code < 500, response.text
    assert named in response.text
    assert users_with_email("ada@example.com") == 0


def test_a_user_is_read_back_by_id(api: httpx.Client) -> None:
    body = new_user("Grace Hopper")
    created = api.post("/users", json=body).json()

    assert api.get(f"/users/{created['id']}").json() == {"id": created["id"], **body}
    missing = api.get(f"/users/{2**31 - 1}")
    assert missing.status_code == 404
    assert str(2**31 - 1) in missing.json()["detail"]


@pytest.mark.parametrize("user_id", ["abc", "0", "-1", str(2**31), "1.5"])
def test_an_id_that_cannot_be_a_user_answers_4xx(api: httpx.Client, user_id: str) -> None:
    response = api.get(f"/users/{user_id}")

    assert 400 <= response.status_code < 500, response.text


JSON_VALUES = st.recursive(
    # JSON has no NaN or Infinity: the client could not even send them.
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=10,
)
# Mostly near-valid bodies, where a server error would hide, and some anything at all.
USER_BODIES = (
    st.fixed_dictionaries(
        {},
        optional={"name": st.text(max_size=120) | JSON_VALUES, "email": st.emails() | st.text()},
    )
    | JSON_VALUES
)


@given(body=USER_BODIES, raw=st.binary(max_size=64), segment=st.text(min_size=1, max_size=40))
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_no_request_gets_a_server_error(
    api: httpx.Client, body: Any, raw: bytes, segment: str
) -> None:
    """Generated bodies and paths, valid or not: every answer is below 500."""
    path = quote(segment, safe="")
    answers = [
        api.post("/users", json=body),
        api.post("/users", content=raw, headers={"Content-Type": "application/json"}),
        api.get(f"/users/{path}"),
        api.get(f"/tasks/{path}"),
    ]
    for answer in answers:
        assert answer.status_code < 500, (
            f"{answer.request.method} {answer.request.url}: {answer.text}"
        )


@pytest.mark.usefixtures("session")
def test_a_signup_its_task_and_their_sql_are_one_trace() -> None:
    queue = queue_of("traced-web")
    with (
        otlp_receiver() as receiver,
        own_worker("traced-web", env=receiver.env("worker")) as worker,
        web_server("traced", {**receiver.env("web"), "CELERY_QUEUE": queue}) as server,
        server.client() as client,
    ):
        response = client.post("/users", json=new_user())
        assert response.status_code == 201, response.text
        task_id = response.json()["task_id"]
        result_of(task_id, worker)
        wait_until(lambda: run_span(receiver, task_id), "the task's span")
        run = run_span(receiver, task_id)
        assert run is not None
        wait_until(
            lambda: any(span.kind == SERVER for span in spans_of(receiver, run.trace_id)),
            "the request's span",
        )

    spans = spans_of(receiver, run.trace_id)
    seen = {(span.service, span.kind, is_sql(span)) for span in spans}
    assert ("web", SERVER, False) in seen  # POST /users
    assert ("web", CLIENT, True) in seen  # its INSERT
    assert ("web", PRODUCER, False) in seen  # get_from_db sent after the commit
    assert ("worker", CONSUMER, False) in seen  # get_from_db run
    assert ("worker", CLIENT, True) in seen  # its SELECT

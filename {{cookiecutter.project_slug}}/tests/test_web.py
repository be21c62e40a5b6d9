"""The HTTP API, served by ``make web`` in its own process, with a real worker.

Every request goes over a real socket to the server a developer runs; the
tasks it sends run on the session's real worker against the real database.
"""

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session, scoped_session

from {{ cookiecutter.package_name }}.models import User
from {{ cookiecutter.package_name }}.tasks import get_from_db

from .broker_state import messages_waiting
from .conftest import TMP_DIR, wait_until
from .task_results import result_of, results_are_stored
from .tcp_proxy import TcpProxy
from .web_server import WebServer, running_web_server
from .worker_process import WorkerProcess

BROKER_PORTS = {"redis": 6379, "amqp": 5672, "pyamqp": 5672}


@pytest.fixture(scope="module")
def web(worker: WorkerProcess) -> Iterator[WebServer]:
    """The API on this run's database, sending to the session worker's queue."""
    with running_web_server(TMP_DIR / "web.log") as server:
        yield server


@pytest.fixture
def api(web: WebServer, session: scoped_session[Session]) -> Iterator[httpx.Client]:
    """A client of ``web``; the users it creates are deleted after the test."""
    with web.client() as client:
        yield client


def new_user(name: str = "Ada Lovelace") -> dict[str, str]:
    return {"name": name, "email": f"{uuid.uuid4().hex[:12]}@example.com"}


def users_with_email(email: str) -> int:
    from {{ cookiecutter.package_name }}.db import session_factory

    with session_factory() as session:
        return session.scalar(select(func.count()).where(User.email == email)) or 0


def test_concurrent_signups_are_each_found_by_their_task_at_the_first_try(
    api: httpx.Client, worker: WorkerProcess
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
    worker: WorkerProcess, unwatched_queue: str, session: scoped_session[Session]
) -> None:
    body = new_user()
    with (
        running_web_server(
            TMP_DIR / "web-unwatched.log", env={"CELERY_QUEUE": unwatched_queue}
        ) as server,
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
    with (
        running_web_server(TMP_DIR / "web-cut.log", env=env) as server,
        server.client() as client,
    ):
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


def task_status(api: httpx.Client, task_id: str, until: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        status: dict[str, Any] = api.get(f"/tasks/{task_id}").json()
        if status["state"] == until:
            return status
        assert time.monotonic() < deadline, f"task {task_id} never reached {until}: {status}"
        time.sleep(0.1)


def test_a_tasks_state_and_outcome_are_read_by_its_id(
    api: httpx.Client, worker: WorkerProcess
) -> None:
    created = api.post("/users", json=new_user("Edsger Dijkstra")).json()
    if not results_are_stored():
        # rpc:// answers only the process that sent the task: refused with the reason.
        refused = api.get(f"/tasks/{created['task_id']}")
        assert refused.status_code == 501
        assert "CELERY_RESULT_BACKEND" in refused.json()["detail"]
        return

    done = task_status(api, created["task_id"], until="SUCCESS")
    assert done["result"]["id"] == created["id"]
    assert done["retries"] == 0

    failed = task_status(api, get_from_db.delay(-1).id, until="FAILURE")
    assert failed["error"] == "ValueError: user_id must be a positive integer, got -1"

    never_sent = api.get(f"/tasks/{uuid.uuid4()}").json()
    assert never_sent["state"] == "PENDING"


def test_a_task_id_that_is_not_a_uuid_answers_4xx(api: httpx.Client) -> None:
    response = api.get("/tasks/not-a-task-id")

    assert 400 <= response.status_code < 500, response.text


def health_follows(proxy: TcpProxy, env: dict[str, str], server: str) -> None:
    """A web API reaching ``server`` through ``proxy``: /health is 200, then 503
    naming ``server`` while the proxy is stopped, then 200 again once it is back."""
    with (
        running_web_server(TMP_DIR / f"web-health-{server}.log", env=env) as web,
        web.client() as client,
    ):
        assert client.get("/health").json() == {"database": "ok", "broker": "ok"}

        proxy.stop()
        down = client.get("/health")
        assert down.status_code == 503
        assert down.json() == {"database": "ok", "broker": "ok", server: "unavailable"}

        proxy.start()
        wait_until(lambda: client.get("/health").status_code == 200, "/health to answer 200 again")


@pytest.mark.usefixtures("broker")
def test_health_turns_503_naming_the_database_while_it_is_unreachable(
    database_url: str, database_proxy: TcpProxy
) -> None:
    env = {"DATABASE_URL": database_proxy.url_through(database_url)}
    health_follows(database_proxy, env, "database")


def url_with_port(url: str, port: int) -> str:
    """``url`` pointing at 127.0.0.1:``port``, its credentials and path kept."""
    parts = urlsplit(url)
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"{credentials}@127.0.0.1:{port}" if credentials else f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=netloc))


def test_health_turns_503_naming_the_broker_while_it_is_unreachable(broker: str) -> None:
    parts = urlsplit(broker)
    if parts.scheme not in BROKER_PORTS:
        pytest.skip("the embedded SQLite broker cannot be unreachable: it is a file")
    with TcpProxy(parts.hostname or "127.0.0.1", parts.port or BROKER_PORTS[parts.scheme]) as proxy:
        health_follows(proxy, {"CELERY_BROKER_URL": url_with_port(broker, proxy.port)}, "broker")


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
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

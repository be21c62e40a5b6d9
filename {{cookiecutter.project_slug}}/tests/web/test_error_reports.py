"""A request that raises reaches Sentry once, in its trace, with nobody's personal data."""

import random

import pytest
from opentelemetry.trace import format_span_id, format_trace_id

from ..support.otlp_receiver import otlp_receiver
from ..support.sentry_receiver import message_of, sentry_receiver, trace_id_of
from ..support.waiting import wait_until
from ..support.web_server import web_server

EMAIL = "ada.reported@example.com"


@pytest.mark.usefixtures("broker", "empty_database")
def test_a_request_that_raises_is_reported_once_in_its_trace_without_personal_data() -> None:
    trace_id = format_trace_id(random.getrandbits(128))
    traceparent = f"00-{trace_id}-{format_span_id(random.getrandbits(64))}-01"
    with sentry_receiver() as sentry, otlp_receiver() as otlp:
        # A database without the service's tables: the INSERT raises.
        env = {**sentry.env(), **otlp.env("web")}
        with web_server("sentry", env) as web, web.client() as client:
            response = client.post(
                "/users",
                json={"name": "Ada Lovelace", "email": EMAIL},
                headers={"traceparent": traceparent},
            )
            assert response.status_code == 500, response.text
            wait_until(sentry.events, "the request's error")
            wait_until(
                lambda: any(span.trace_id == trace_id for span in otlp.received()),
                "the request's span",
            )
        # Stopped: the server has sent what it had.
        events = sentry.events()
        raw = b"".join(sentry.raw)

    assert len(events) == 1, [message_of(event) for event in events]
    [event] = events
    assert event["request"]["method"] == "POST"
    assert event["request"]["url"].endswith("/users")
    assert trace_id_of(event) == trace_id
    assert f"trace={trace_id}" in web.process.log()
    assert EMAIL.encode() not in raw
    assert b"Lovelace" not in raw

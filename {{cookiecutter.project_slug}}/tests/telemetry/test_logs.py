"""The web server's log lines lead to their request's trace (``telemetry/logs.py``)."""

import json

import pytest

from ..support.otlp_receiver import otlp_receiver
from ..support.traces import SERVER
from ..support.waiting import wait_until
from ..support.web_server import web_server


@pytest.mark.usefixtures("broker")
def test_a_requests_log_line_is_json_and_carries_its_trace_id() -> None:
    env = {"LOG_FORMAT": "json"}
    with otlp_receiver() as receiver, web_server("json-log", receiver.env("web") | env) as web:
        with web.client() as client:
            assert client.get("/health").status_code == 200

        def request_spans() -> set[str]:
            received = receiver.received()
            return {span.trace_id for span in received if span.kind == SERVER}

        wait_until(request_spans, "the requests' spans")
        log = web.process.log()

    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    logged = {line["trace_id"] for line in lines if "/health" in line["message"]}
    assert logged & request_spans(), log

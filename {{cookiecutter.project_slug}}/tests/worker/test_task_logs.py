"""Worker log lines name the task and trace that wrote them; LOG_LEVEL sets the level."""

import json
import uuid

import pytest

from ..support.environment import queue_of
from ..support.otlp_receiver import otlp_receiver
from ..support.probe_tasks import log_at_each_level
from ..support.traces import run_span
from ..support.waiting import TIMEOUT, wait_until
from ..support.workers import ChildProcess, own_worker


def test_lines_from_any_logger_name_the_running_task(worker: ChildProcess) -> None:
    text = uuid.uuid4().hex
    result = log_at_each_level.delay(text)
    result.get(timeout=TIMEOUT)

    (line,) = [line for line in worker.log().splitlines() if text in line]
    assert f"{log_at_each_level.name}[{result.id}]: warning: {text}" in line
    # The session's worker runs at the default level, INFO.
    assert f"debug: {text}" not in worker.log()


@pytest.mark.usefixtures("broker")
def test_log_level_comes_from_settings() -> None:
    text = uuid.uuid4().hex
    with own_worker("debug-log", env={"LOG_LEVEL": "DEBUG"}) as worker:
        log_at_each_level.apply_async((text,), queue=queue_of("debug-log")).get(timeout=TIMEOUT)
        log = worker.log()

    assert f"debug: {text}" in log
    assert f"warning: {text}" in log


@pytest.mark.usefixtures("broker")
def test_json_lines_carry_the_task_and_its_trace() -> None:
    text = uuid.uuid4().hex
    with (
        otlp_receiver() as receiver,
        own_worker("json-log", env={**receiver.env("worker"), "LOG_FORMAT": "json"}) as worker,
    ):
        result = log_at_each_level.apply_async((text,), queue=queue_of("json-log"))
        result.get(timeout=TIMEOUT)
        wait_until(lambda: run_span(receiver, result.id), "the task's span")
        log = worker.log()

    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    (line,) = [line for line in lines if text in line["message"]]
    run = run_span(receiver, result.id)
    assert run is not None
    assert line["level"] == "WARNING"
    assert line["task_id"] == result.id
    assert line["task_name"] == log_at_each_level.name
    assert line["trace_id"] == run.trace_id

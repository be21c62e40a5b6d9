"""Worker log lines name the task that wrote them; LOG_LEVEL sets the level."""

import uuid

import pytest

from ..support.probe_tasks import log_at_each_level
from ..support.run import queue_of
from ..support.workers import ChildProcess, own_worker

TIMEOUT = 60


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

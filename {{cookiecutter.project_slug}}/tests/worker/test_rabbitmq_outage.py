"""A RabbitMQ outage restarts no worker: the probe says alive and why, and it consumes again.

The worker's consumer loop, which beats, is blocked in Celery's reconnect for
as long as RabbitMQ is away (``worker/reconnect_watch.py``). The test stops
a RabbitMQ node of its own for three probe windows: the machine's broker and
its other clients are never disturbed.
"""

import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy.orm import Session, scoped_session

from {{ cookiecutter.package_name }}.config import settings

from ..support.broker_outage import worker_rides_out_an_outage
from ..support.broker_state import RabbitMQNode, rabbitmq_server
from ..support.liveness import OUTAGE


@pytest.mark.usefixtures("broker")
def test_a_worker_lives_through_a_rabbitmq_outage_and_consumes_again(
    session: scoped_session[Session], tmp_path: Path
) -> None:
    scheme = urlsplit(settings.celery_broker_url).scheme
    if scheme.startswith("sqla"):
        pytest.skip("the embedded SQLite broker cannot be away: it is a file; this needs RabbitMQ")
    if scheme not in ("amqp", "pyamqp", "amqps"):
        pytest.skip(f"needs RabbitMQ as the broker, not {scheme}")
    program = rabbitmq_server()
    if program is None:
        pytest.skip("needs rabbitmq-server installed here, to stop a RabbitMQ of its own")
    node = RabbitMQNode(program, tmp_path)

    def outage() -> None:
        # Away for three probe windows at least, however fast the node restarts.
        began = time.monotonic()
        node.stop()
        time.sleep(max(0.0, OUTAGE - (time.monotonic() - began)))
        node.start()

    node.start()
    try:
        log = worker_rides_out_an_outage(session, node.url, outage, tmp_path, record_id=311)
    finally:
        node.stop()
    assert log.count("Connected to amqp://") == 2, "connected, then reconnected by itself"

"""A Redis outage restarts no worker: the probe says alive and why, and it consumes again.

The worker's consumer loop, which beats, is blocked in Celery's reconnect for
as long as Redis is away (``worker/reconnect_watch.py``). The test stops a
Redis of its own for three probe windows: the machine's Redis and its other
clients are never disturbed.
"""

import shutil
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy.orm import Session, scoped_session

from {{ cookiecutter.package_name }}.config import settings

from ..support.broker_outage import worker_rides_out_an_outage
from ..support.broker_state import RedisServer
from ..support.liveness import OUTAGE


@pytest.mark.usefixtures("broker")
def test_a_worker_lives_through_a_redis_outage_and_consumes_again(
    session: scoped_session[Session], tmp_path: Path
) -> None:
    scheme = urlsplit(settings.celery_broker_url).scheme
    if scheme.startswith("sqla"):
        pytest.skip("the embedded SQLite broker cannot be away: it is a file; this needs Redis")
    if scheme not in ("redis", "rediss"):
        pytest.skip(f"needs Redis as the broker, not {scheme}")
    if shutil.which("redis-server") is None:
        pytest.skip("needs redis-server installed here, to stop a Redis of its own")
    server = RedisServer(tmp_path)

    def outage() -> None:
        server.stop()
        time.sleep(OUTAGE)
        server.start()

    server.start()
    try:
        log = worker_rides_out_an_outage(session, server.url, outage, tmp_path, record_id=301)
    finally:
        server.stop()
    assert log.count("Connected to redis://") == 2, "connected, then reconnected by itself"

"""A worker through a broker outage: alive and saying why, then the same worker consumes again.

Shared by each broker's test (``tests/worker/test_<broker>_outage.py``): each
stops and starts a broker server of its own, as an outage would.
"""

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from kombu import Connection
from sqlalchemy.orm import Session, scoped_session

from .environment import queue_of
from .liveness import OUTAGE, alive, assert_alive_saying, heartbeat_env, hung, probe
from .probe_tasks import journal_lines, rename_slowly
from .records import add_record
from .waiting import wait_until
from .workers import own_worker

RECONNECTING = "reconnecting to the broker since"


def worker_rides_out_an_outage(
    session: scoped_session[Session],
    broker_url: str,
    outage: Callable[[], None],
    tmp_path: Path,
    record_id: int,
) -> str:
    """Probe all through ``outage`` (the broker stopped, then started), send a task; the log.

    ``outage`` keeps the broker away for at least three probe windows.
    """
    add_record(session, record_id)
    session.remove()
    heartbeat = str(tmp_path / "heartbeat")
    journal = tmp_path / "task.journal"
    env = heartbeat_env(heartbeat) | {"CELERY_BROKER_URL": broker_url}
    with own_worker("broker-outage", concurrency=1, env=env) as worker:
        wait_until(lambda: alive(heartbeat), "the first heartbeat")
        pid = worker.process.pid

        began = time.monotonic()
        with ThreadPoolExecutor(max_workers=1) as pool:
            over = pool.submit(outage)
            answers = []
            while not over.done():
                answers.append(probe(heartbeat))
            over.result()
        assert time.monotonic() - began >= OUTAGE

        # Sent once the broker is back: the worker that lived through the
        # outage runs it, with no restart.
        with Connection(broker_url) as connection:
            rename_slowly.apply_async(
                (record_id, "after", 0, str(journal)),
                queue=queue_of("broker-outage"),
                producer=connection.Producer(),
            )
        wait_until(lambda: journal_lines(journal, "done") or worker.exited(), "the task")
        assert not worker.exited(), f"the worker stopped:\n{worker.log()}"
        assert worker.process.pid == pid
        wait_until(lambda: alive(heartbeat), "the beat to resume")

        # Hung, not waiting for the broker: dead.
        with hung(worker):
            wait_until(lambda: not alive(heartbeat), "the probe to call it dead")
        log = worker.log()
    assert_alive_saying(answers, RECONNECTING)
    return log

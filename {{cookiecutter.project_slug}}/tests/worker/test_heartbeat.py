"""The worker's liveness: alive while its one process runs a long task, dead once it hangs.

The probe is the command the Kubernetes manifests run (``liveness.py``); the
worker beats from its consumer's event loop (``worker/heartbeat.py``).
"""

import time
from pathlib import Path

import pytest

from ..support.environment import queue_of
from ..support.liveness import alive, heartbeat_env, hung, probe
from ..support.probe_tasks import end_attempt
from ..support.tcp_proxy import DEFAULT_PORTS, scheme
from ..support.waiting import TIMEOUT, wait_until
from ..support.workers import own_worker

LONG_TASK = 6.0


@pytest.mark.usefixtures("broker", "database_url")
def test_a_busy_worker_is_alive_and_a_hung_one_is_dead(tmp_path: Path) -> None:
    heartbeat = str(tmp_path / "heartbeat")
    with own_worker("heartbeat", concurrency=1, env=heartbeat_env(heartbeat)) as worker:
        wait_until(lambda: alive(heartbeat), "the first heartbeat")
        # Its only pool process busy for longer than the probe's window.
        result = end_attempt.apply_async(("sleep", LONG_TASK), queue=queue_of("heartbeat"))
        wait_until(lambda: "received" in worker.log(), "the task to be taken")
        answers = []
        finishes = time.monotonic() + LONG_TASK - 1
        while time.monotonic() < finishes:
            answers.append(probe(heartbeat))
        assert answers
        assert [answer.returncode for answer in answers] == [0] * len(answers), answers[-1].stdout
        assert result.get(timeout=TIMEOUT) == "sleep"

        with hung(worker):
            wait_until(lambda: not alive(heartbeat), "the probe to call it dead")
            assert probe(heartbeat).stdout.startswith("dead: last heartbeat")


def test_the_probe_says_dead_before_the_first_heartbeat(tmp_path: Path) -> None:
    answer = probe(str(tmp_path / "never-written"))
    assert answer.returncode == 1
    assert answer.stdout.startswith("dead: no heartbeat yet")


@pytest.mark.usefixtures("database_url")
def test_the_beat_comes_from_the_loop_that_takes_the_tasks(tmp_path: Path, broker: str) -> None:
    # The solo pool runs a task in that loop: a long one stops the beat,
    # which a beat from a thread of its own would not notice.
    if scheme(broker) not in DEFAULT_PORTS:
        pytest.skip("the embedded SQLite broker cannot stop the beat: Celery polls it")
    heartbeat = str(tmp_path / "heartbeat")
    with own_worker("heartbeat-solo", pool="solo", env=heartbeat_env(heartbeat)):
        wait_until(lambda: alive(heartbeat), "the first heartbeat")
        result = end_attempt.apply_async(("sleep", LONG_TASK), queue=queue_of("heartbeat-solo"))
        wait_until(lambda: not alive(heartbeat), "the beat to stop during the task")
        assert result.get(timeout=TIMEOUT) == "sleep"
        wait_until(lambda: alive(heartbeat), "the beat to resume")

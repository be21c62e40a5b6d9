"""Waiting for what a process did, never a fixed time: on a busy machine any sleep is too short.

``TIMEOUT`` is how long any test waits for a process, a task's result or a
server: ``wait_until``'s default, and the number to pass where another wait
(``AsyncResult.get``, ``ChildProcess.wait_until``) needs one.
"""

import time
from collections.abc import Callable

TIMEOUT = 60


def wait_until(condition: Callable[[], object], what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(0.05)

"""Waiting for what a process did, never a fixed time: on a busy machine any sleep is too short."""

import time
from collections.abc import Callable


def wait_until(condition: Callable[[], object], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(0.05)

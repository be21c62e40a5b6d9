"""What wakes the relay between passes: the clock, or a signal to stop.

The database sends no notice when a message commits: the pass every
OUTBOX_RELAY_EVERY seconds bounds the wait.
"""

import os
import select

from sqlalchemy import Engine


class Wakeup:
    """Sleeps until the clock or ``interrupt()`` (called from a signal handler) ends it."""

    def __init__(self) -> None:
        # A pipe, not a threading.Event: select() can wait on it beside a socket.
        self._interrupt_read, self._interrupt_write = os.pipe()
        os.set_blocking(self._interrupt_write, False)

    def interrupt(self) -> None:
        os.write(self._interrupt_write, b"\0")

    def wait(self, timeout: float) -> None:
        select.select([self._interrupt_read], [], [], timeout)

    def describe(self, every: float) -> str:
        return f"a pass every {every:g}s"

    def close(self) -> None:
        os.close(self._interrupt_read)
        os.close(self._interrupt_write)


def wakeup_for(engine: Engine) -> Wakeup:
    return Wakeup()

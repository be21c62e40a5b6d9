"""An interruptible sleep between the relay's passes: the clock, or a signal to stop.

Both ``wakeup.py`` variants build on it: the clock alone, or the clock and the
database's notice that messages committed.
"""

import os
import select


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

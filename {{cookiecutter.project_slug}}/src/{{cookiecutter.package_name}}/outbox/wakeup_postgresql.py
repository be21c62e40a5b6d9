"""What wakes the relay between passes: PostgreSQL's notice that a message committed, or the clock.

On PostgreSQL a trigger (migration 0004) sends NOTIFY outbox_messages with
every statement that adds messages; PostgreSQL delivers it when, and only if,
the transaction commits. The relay LISTENs on a connection of its own, on
the server itself (DATABASE_DIRECT_URL: a transaction pooler forgets a
LISTEN with the transaction, while a NOTIFY goes through it), and wakes
within milliseconds. It still passes every OUTBOX_RELAY_EVERY seconds,
which catches what a lost connection missed. SQLite (embedded mode) has no
such notice: there the pass every OUTBOX_RELAY_EVERY seconds bounds the wait.
"""

import logging
import select
from typing import Any

from sqlalchemy import Engine

from ..db import direct_engine
from .sleep import Wakeup

logger = logging.getLogger(__name__)

CHANNEL = "outbox_messages"


class CommitNotices(Wakeup):
    """Also wakes when PostgreSQL notifies that a transaction committed messages."""

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self._engine = engine
        self._listening: Any = None  # the psycopg connection, while it lasts
        self._lost_logged = False

    def listen(self) -> None:
        """LISTEN now, before the first pass: nothing committed after it is missed."""
        if self._listening is not None:
            return
        try:
            pooled = self._engine.raw_connection()
            connection: Any = pooled.driver_connection
            # Detached: the pool neither counts nor recycles it.
            pooled.detach()
            connection.autocommit = True
            connection.execute(f"LISTEN {CHANNEL}")
        except Exception as error:
            if not self._lost_logged:
                logger.warning(
                    "cannot LISTEN for new messages, passing on the clock: %s: %s",
                    type(error).__name__,
                    error,
                )
            self._lost_logged = True
            return
        if self._lost_logged:
            logger.info("listening for new messages again")
        self._lost_logged = False
        self._listening = connection

    def describe(self, every: float) -> str:
        if self._listening is None:
            return f"a pass every {every:g}s (not listening yet)"
        return f"a pass as each message commits (LISTEN {CHANNEL}), and every {every:g}s"

    def wait(self, timeout: float) -> None:
        self.listen()
        if self._listening is None:
            super().wait(timeout)
            return
        ready, _, _ = select.select(
            [self._interrupt_read, self._listening.fileno()], [], [], timeout
        )
        if self._listening.fileno() in ready:
            self._drain()

    def _drain(self) -> None:
        try:
            for _ in self._listening.notifies(timeout=0):
                pass  # one pass after the wait relays whatever they announced
        except Exception:  # the server closed the connection: listen anew next time
            self.close_listening()

    def close_listening(self) -> None:
        if self._listening is not None:
            try:
                self._listening.close()
            finally:
                self._listening = None

    def close(self) -> None:
        self.close_listening()
        super().close()


def wakeup_for(engine: Engine) -> Wakeup:
    return CommitNotices(direct_engine()) if engine.dialect.name == "postgresql" else Wakeup()

"""While Celery reconnects the worker to the broker, the probe hears so, as long as it tries.

The heartbeat comes from the consumer's event loop (``heartbeat.py``). When
the connection drops, Celery leaves that loop and blocks in kombu's
``Connection.ensure_connection`` until the broker answers again: no beat,
however long the outage. A restart would not bring the broker back, and every
worker would restart at once. Celery offers no hook per attempt, so a thread
watches the consumer it reconnects: no connection while its blueprint runs
means a reconnect, and ``broker_connection_retry_attempt``, which Celery counts
up at each failed attempt, shows it progressing. The thread renews the outage
note (``liveness.note_outage``) only at the start and at each new attempt: if
the main thread hangs, inside the reconnect or not, the note expires and the
probe fails as it should. Once connected again the note goes, and the loop,
back in its event loop, beats again: the worker consumes with no restart.
"""

import threading
import time
from typing import Any

from celery.bootsteps import RUN  # type: ignore[attr-defined]  # missing from the stubs

from ..liveness import Outage, clear_outage, note_outage

# kombu sleeps at most 30 s between two attempts (ensure_connection's
# interval_max, which Celery leaves at its default); each attempt may take up
# to broker_connection_timeout more. The note promises the next within both.
LONGEST_PAUSE_BETWEEN_ATTEMPTS = 30.0

RECONNECTING = "reconnecting to the broker"


class ReconnectWatch(threading.Thread):
    """Notes the outage while ``consumer`` reconnects; a daemon, so it never delays an exit."""

    def __init__(self, consumer: Any, every: float) -> None:
        super().__init__(name="reconnect-watch", daemon=True)
        self.consumer = consumer
        self.every = every
        self.patience = LONGEST_PAUSE_BETWEEN_ATTEMPTS + float(
            consumer.app.conf.broker_connection_timeout or 0
        )
        self.since: float | None = None
        self.attempts_noted = -1

    def run(self) -> None:
        while True:
            time.sleep(self.every)
            self.look()

    def reconnecting(self) -> bool:
        # The connection is None from the moment Celery drops the broken one
        # until ensure_connection returns a new one. Before it drops it, Celery
        # stops the consumer's steps, which may wait on the broken connection
        # for a while: a connection that says it is closed counts too. At
        # shutdown the blueprint no longer runs, and that is no outage.
        consumer = self.consumer
        connection = consumer.connection
        broken = connection is None or not connection.connected
        return broken and consumer.blueprint.state == RUN

    def look(self) -> None:
        if not self.reconnecting():
            if self.since is not None:
                clear_outage()
                self.since = None
            return
        attempts = int(self.consumer.broker_connection_retry_attempt)
        if self.since is None:
            self.since = time.time()
        elif attempts == self.attempts_noted:
            return  # no new attempt: the note is not renewed
        self.attempts_noted = attempts
        detail = f"{attempts} failed attempt(s) so far, each in the worker's log"
        note_outage(Outage(RECONNECTING, self.since, detail, self.patience))

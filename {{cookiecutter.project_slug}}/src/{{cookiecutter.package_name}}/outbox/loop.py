"""The relay as a process: a pass whenever messages may wait, until SIGTERM or SIGINT.

A pass publishes until the outbox is empty (``relay.relay_pending``), then the
relay sleeps until a message commits (``wakeup``) or OUTBOX_RELAY_EVERY
passes. An idle pass costs the database one indexed query; deleting sent
messages, the purges the program passes in (old records of other tables)
and the check for a stuck outbox run once a minute.

A database or broker that is away fails the pass, not the relay: it tries
again every OUTBOX_RELAY_EVERY seconds, beating before each try, and tells
the liveness probe what it waits for, so that no restart (which could not
bring the server back) is asked for. A relay that hangs stops beating.
"""

import logging
import signal
import threading
import time
from collections.abc import Callable, Sequence
from types import FrameType

from celery import Celery
from kombu.exceptions import OperationalError as BrokerUnavailable
from sqlalchemy.exc import DBAPIError

from ..config import settings
from ..liveness import Outage, beat, clear_outage, note_outage
from .commands import outbox_status
from .publishing import purge_sent, relay_engine, relay_pending
from .wakeup import wakeup_for

logger = logging.getLogger(__name__)

HOUSEKEEPING_EVERY = 60.0

# Each deletes what its table keeps no longer, in batches; the relay is the
# one process every bake runs that owns the database's housekeeping.
Purge = Callable[[], object]


class Relay:
    """A pass every ``every`` seconds, or as soon as a message commits where the database says so.

    SIGTERM and SIGINT let the batch under way finish.
    """

    def __init__(self, app: Celery, every: float, purges: Sequence[Purge] = ()) -> None:
        self.app = app
        self.every = every
        self.purges = purges
        self.stopping = threading.Event()
        self.wakeup = wakeup_for(relay_engine)
        self.failing_since: float | None = None
        self.last_housekeeping = -HOUSEKEEPING_EVERY

    def stop(self, signum: int, _: FrameType | None) -> None:
        logger.info("%s: stopping after this batch", signal.Signals(signum).name)
        self.stopping.set()
        self.wakeup.interrupt()

    def run(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self.stop)
        clear_outage()  # a note left by a relay that ran here before
        try:
            self.wakeup.wait(0)  # starts listening before the first pass
            logger.info("relay started: %s", self.wakeup.describe(self.every))
            while not self.stopping.is_set():
                self.one_pass()
                if not self.stopping.is_set():
                    self.wakeup.wait(self.every)
        finally:
            self.wakeup.close()
        logger.info("relay stopped")

    def between_batches(self) -> bool:
        """Beat for the liveness probe (``liveness.py``), however long the backlog; stop?"""
        beat()
        return self.stopping.is_set()

    def one_pass(self) -> None:
        try:
            sent = relay_pending(self.app, self.between_batches)
            if time.monotonic() - self.last_housekeeping >= HOUSEKEEPING_EVERY:
                self.housekeeping()
        except (BrokerUnavailable, DBAPIError) as error:
            self.cannot_relay(error)
            return
        if self.failing_since is not None:
            logger.info("relaying again")
            clear_outage()
        self.failing_since = None
        if sent:
            logger.info("sent %d message(s)", sent)

    def cannot_relay(self, error: Exception) -> None:
        """Both heal when the server is back: one log line per outage, a note at each try."""
        if self.failing_since is None:
            logger.warning("cannot relay, trying again every %ss: %s", self.every, error)
            self.failing_since = time.time()
        server = "the database" if isinstance(error, DBAPIError) else "the broker"
        last_error = f"{type(error).__name__}: {error}".splitlines()[0]
        detail = f"last error: {last_error}"
        note_outage(Outage(f"waiting for {server}", self.failing_since, detail))

    def housekeeping(self) -> None:
        purge_sent(settings.outbox_retention)
        for purge in self.purges:
            purge()
        status = outbox_status()
        if status.stuck(settings.outbox_alert_after):
            logger.warning(
                "the outbox is falling behind (%s); alert after %gs",
                status,
                settings.outbox_alert_after,
            )
        self.last_housekeeping = time.monotonic()


def relay_once(app: Celery, purges: Sequence[Purge] = ()) -> int:
    """One pass for ``--once``: the exit status is 1 if the broker is down."""
    try:
        sent = relay_pending(app)
    except BrokerUnavailable as error:
        # One clear line: the traceback would only show kombu's retry machinery.
        logger.error(
            "broker unreachable, %d message(s) stay in the outbox: %s",
            outbox_status().unsent,
            error,
        )
        return 1
    purge_sent(settings.outbox_retention)
    for purge in purges:
        purge()
    logger.info("sent %d message(s)", sent)
    return 0

"""What wakes the relay between passes: the clock, or a signal to stop.

The database sends no notice when a message commits: the pass every
OUTBOX_RELAY_EVERY seconds bounds the wait.
"""

from sqlalchemy import Engine

from .sleep import Wakeup


def wakeup_for(engine: Engine) -> Wakeup:
    return Wakeup()

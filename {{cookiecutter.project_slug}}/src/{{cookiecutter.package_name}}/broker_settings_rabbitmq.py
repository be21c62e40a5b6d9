"""RabbitMQ's own settings, mixed into ``config.Settings``.

Countdowns and retry delays wait in RabbitMQ (native delayed delivery), not in
a worker, so no setting bounds them here. This module imports nothing of the
package: ``config.py`` stays the lowest layer.
"""

from pydantic_settings import BaseSettings

# Native delayed delivery (kombu.transport.native_delayed_delivery) passes a
# countdown through 28 queues, the n-th holding it 2**n seconds or not at all:
# at most 2**28 - 1 seconds, about 8.5 years.
NATIVE_DELAYED_DELIVERY_BITS = 28
LONGEST_NATIVE_DELAY = 2**NATIVE_DELAYED_DELIVERY_BITS - 1


class BrokerSettings(BaseSettings):
    @property
    def longest_countdown(self) -> float:
        """The longest countdown ``add_to_outbox`` accepts: native delayed delivery's."""
        return float(LONGEST_NATIVE_DELAY)

"""Publishing a batch of messages: on Redis, one pipeline for the whole batch."""

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from celery import Celery
from kombu import Connection, Producer
from kombu.exceptions import BatchPublishError  # type: ignore[attr-defined]
from kombu.exceptions import OperationalError as BrokerUnavailable

# A batch is sent in one pipeline: no flush until its end.
MAX_BATCH = 10_000

# A few quick attempts: the relay tries again at its next pass anyway.
CONNECT_RETRY_POLICY: dict[str, Any] = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2}


@contextmanager
def batch_connection(app: Celery) -> Iterator[Connection]:
    """A connection of the relay's own, to the app's broker."""
    with app.connection_for_write() as connection:
        connection.ensure_connection(**CONNECT_RETRY_POLICY)
        yield connection


def publish_batch(
    connection: Connection,
    messages: Sequence[Any],
    publish: Callable[[Producer, Any], None],
) -> dict[int, Exception]:
    """Call ``publish`` for each message; return once the broker has every one it took.

    The result maps the position of each message that failed to its error
    (one that cannot even be made into a message, say). An error that leaves
    the batch's fate unknown, such as a server that stops answering or runs
    out of memory, raises ``BrokerUnavailable``: nothing of the batch counts
    as sent.
    """
    producer = connection.Producer()
    # Redis refuses a command for reasons of its own (no memory left, a key
    # of another type), never for one message's content.
    broker_errors: tuple[type[BaseException], ...] = (
        *connection.connection_errors,
        *connection.channel_errors,
    )
    refused: dict[int, Exception] = {}
    # kombu's batch (new in 5.7, unknown to celery-types yet) pipelines the
    # LPUSHes: one round trip, not one a message. On the embedded SQLite
    # broker it publishes each message at once.
    try:
        with producer.batch(max_size=MAX_BATCH):  # type: ignore[attr-defined]
            for position, message in enumerate(messages):
                try:
                    publish(producer, message)
                except broker_errors:
                    raise
                except Exception as error:
                    refused[position] = error
    except (*broker_errors, BatchPublishError) as error:
        cause = f" ({error.__cause__})" if error.__cause__ else ""
        raise BrokerUnavailable(f"{type(error).__name__}: {error}{cause}") from error
    return refused

"""Publishing a batch of messages: on RabbitMQ, with publisher confirms for the whole batch.

py-amqp waits for each message's confirm before it sends the next, one round
trip a message. Here every message of the batch is sent, then the broker's
confirms are collected (``multiple`` acks cover many at once), as RabbitMQ's
guide to publisher confirms advises.
"""

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from amqp.exceptions import ChannelError, MessageNacked
from celery import Celery
from kombu import Connection, Producer
from kombu.exceptions import OperationalError as BrokerUnavailable

# Longer than RabbitMQ takes to store a batch on a busy quorum queue.
CONFIRM_TIMEOUT = 30.0

# A few quick attempts: the relay tries again at its next pass anyway.
CONNECT_RETRY_POLICY: dict[str, Any] = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2}


@contextmanager
def batch_connection(app: Celery) -> Iterator[Connection]:
    """A connection of the relay's own; its channels confirm a batch, not each message."""
    options = {**app.conf.broker_transport_options, "confirm_publish": False}
    with app.connection_for_write(transport_options=options) as connection:
        connection.ensure_connection(**CONNECT_RETRY_POLICY)
        yield connection


class Confirms:
    """The broker's answers on one channel in confirm mode, by publish sequence number."""

    def __init__(self, channel: Any) -> None:
        channel.confirm_select()
        channel.events["basic_ack"].add(self.on_ack)
        channel.events["basic_nack"].add(self.on_nack)
        self.published = 0
        self.unsettled: set[int] = set()
        self.nacked: set[int] = set()

    def add(self) -> int:
        self.published += 1
        self.unsettled.add(self.published)
        return self.published

    def settle(self, tag: int, multiple: bool) -> set[int]:
        settled = {n for n in self.unsettled if n <= tag} if multiple else {tag}
        self.unsettled -= settled
        return settled

    def on_ack(self, tag: int, multiple: bool) -> None:
        self.settle(tag, multiple)

    def on_nack(self, tag: int, multiple: bool) -> None:
        self.nacked |= self.settle(tag, multiple)

    def wait(self, connection: Connection) -> None:
        deadline = time.monotonic() + CONFIRM_TIMEOUT
        while self.unsettled:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{len(self.unsettled)} message(s) not confirmed")
            try:
                connection.drain_events(timeout=remaining)
            except TimeoutError:
                continue


def publish_batch(
    connection: Connection,
    messages: Sequence[Any],
    publish: Callable[[Producer, Any], None],
) -> dict[int, Exception]:
    """Call ``publish`` for each message; return once the broker has every one it took.

    The result maps the position of each message that failed to its error:
    one RabbitMQ refused (a nack: a full queue, say), or one that cannot even
    be made into a message. An error that leaves the batch's fate unknown,
    such as a lost connection, raises ``BrokerUnavailable``: nothing of the
    batch counts as sent.
    """
    broker_down: tuple[type[BaseException], ...] = (*connection.connection_errors, TimeoutError)
    try:
        try:
            return publish_confirmed(connection, messages, publish)
        except ChannelError:
            # One message closed the channel (one too large, say), and with
            # it the batch. One at a time, that message alone fails.
            return publish_one_at_a_time(connection, messages, publish)
    except broker_down as error:
        raise BrokerUnavailable(f"{type(error).__name__}: {error}") from error


def publish_one_at_a_time(
    connection: Connection,
    messages: Sequence[Any],
    publish: Callable[[Producer, Any], None],
) -> dict[int, Exception]:
    refused: dict[int, Exception] = {}
    for position, message in enumerate(messages):
        try:
            error = publish_confirmed(connection, [message], publish).get(0)
        except ChannelError as channel_closed:
            error = channel_closed
        if error is not None:
            refused[position] = error
    return refused


def publish_confirmed(
    connection: Connection,
    messages: Sequence[Any],
    publish: Callable[[Producer, Any], None],
) -> dict[int, Exception]:
    channel: Any = connection.channel()
    unknown_fate: tuple[type[BaseException], ...] = (*connection.connection_errors, ChannelError)
    try:
        confirms = Confirms(channel)
        producer = Producer(channel)
        refused: dict[int, Exception] = {}
        positions: dict[int, int] = {}
        for position, message in enumerate(messages):
            try:
                publish(producer, message)
            except unknown_fate:
                raise
            except Exception as error:
                refused[position] = error
            else:
                positions[confirms.add()] = position
        confirms.wait(connection)
    finally:
        # After a channel error the channel is already gone; the error that
        # closed it is the one to raise.
        with contextlib.suppress(Exception):
            channel.close()
    for tag in confirms.nacked:
        refused[positions[tag]] = MessageNacked("RabbitMQ refused the message (a nack)")
    return refused

"""The transactional outbox: a task is sent if, and only if, its transaction commits.

Sending after the commit (``delay_on_commit``) loses the task when the broker
is down at that moment or the process dies between commit and publish. Here
the task is written as a row in the same transaction as the data it is about,
and a relay publishes committed rows until the broker has taken them::

    session.add(user)
    session.flush()  # gives user.id
    add_to_outbox(session, "{{ cookiecutter.package_name }}.tasks.get_from_db", [user.id])
    session.commit()  # the user and the message, or neither

The relay is ``python -m {{ cookiecutter.package_name }}.outbox`` (``make relay``): a
loop that runs a pass every ``OUTBOX_RELAY_EVERY`` seconds, or a single pass
with ``--once``, which exits with status 1 if the broker could not take
everything.

Delivery is at least once: a relay that dies after publishing and before
recording the send publishes that message again, with the same task id. Tasks
sent through the outbox must be idempotent (as late acks require anyway).
"""

import argparse
import json
import logging
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NoReturn

from kombu.exceptions import OperationalError as BrokerUnavailable
from sqlalchemy import func, select, update
from sqlalchemy.exc import OperationalError as DatabaseUnavailable
from sqlalchemy.orm import Session, scoped_session

from .celery import app
from .config import settings
from .db import engine
from .models import OutboxMessage

logger = logging.getLogger(__name__)

# For connecting and for each publish: a few quick attempts, then give up. A
# message the broker refuses stays in the outbox for the next pass, so waiting
# longer here gains nothing (kombu's defaults keep trying for seconds).
PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}

# Under MySQL/MariaDB's default REPEATABLE READ, the relay's locking read also
# locks the gap after the last unsent row, which would block every transaction
# adding a message until the relay commits. READ COMMITTED locks rows only.
# (PostgreSQL already defaults to it; SQLite has no row locks.)
relay_engine = (
    engine.execution_options(isolation_level="READ COMMITTED")
    if engine.dialect.name in ("mysql", "mariadb")
    else engine
)


# The apply_async options a stored message may carry, with the types Celery
# accepts for them. Anything else is refused when the message is added: a row
# the relay cannot publish would stop every pass at that row.
PUBLISH_OPTIONS: dict[str, type | tuple[type, ...]] = {
    "queue": str,
    "countdown": (int, float),
    "expires": (int, float),
    "priority": int,
}


def require_publishable(options: Mapping[str, Any]) -> None:
    for name, value in options.items():
        if name not in PUBLISH_OPTIONS:
            raise TypeError(
                f"option {name!r} cannot go through the outbox; use one of "
                f"{', '.join(PUBLISH_OPTIONS)}"
            )
        if isinstance(value, bool) or not isinstance(value, PUBLISH_OPTIONS[name]):
            raise TypeError(f"option {name!r} must be {PUBLISH_OPTIONS[name]}, not {value!r}")


def add_to_outbox(
    session: Session | scoped_session[Session],
    task_name: str,
    args: Sequence[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
    **options: Any,
) -> str:
    """Add a message for ``task_name`` to ``session``; return its Celery task id.

    Nothing is sent or committed here: the caller's commit stores the message
    with the data, a rollback drops both. ``options`` are ``apply_async``
    options such as ``queue`` or ``countdown`` (counted from the publish).

    Arguments that cannot be stored as JSON raise ``TypeError`` or
    ``ValueError`` now, in the caller, not later in the relay.
    """
    if not isinstance(args, list | tuple):
        raise TypeError(f"args must be a list or a tuple, not {type(args).__name__}")
    require_publishable(options)
    kwargs = dict(kwargs or {})
    # allow_nan=False: PostgreSQL's JSON refuses NaN and Infinity.
    json.dumps([args, kwargs, options], allow_nan=False)
    task_id = str(uuid.uuid4())
    session.add(
        OutboxMessage(
            task_id=task_id,
            task_name=task_name,
            args=list(args),
            kwargs=kwargs,
            options=options,
        )
    )
    return task_id


def publish_each(messages: Sequence[OutboxMessage]) -> Iterator[int]:
    """Publish ``messages`` in order, yielding the id of each one the broker took."""
    if not messages:
        return  # no broker connection for an empty outbox
    with app.producer_or_acquire() as producer:
        producer.connection.ensure_connection(**PUBLISH_RETRY_POLICY)
        for message in messages:
            app.send_task(
                message.task_name,
                message.args,
                message.kwargs,
                task_id=message.task_id,
                producer=producer,
                **{**message.options, "retry": True, "retry_policy": PUBLISH_RETRY_POLICY},
            )
            yield message.id


def relay_pending(limit: int = 100) -> int:
    """Publish up to ``limit`` unsent messages, oldest first; return how many.

    The rows stay locked until the commit that records them as sent. A failed
    publish ends the pass: the messages sent before it are committed as sent,
    the rest stay for the next pass, and the error is raised.
    """
    # SKIP LOCKED leaves the rows another relay is publishing to that relay:
    # two relays never send the same row, and neither waits for the other.
    unsent_oldest_first = (
        select(OutboxMessage)
        .where(OutboxMessage.sent_at.is_(None))
        .order_by(OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    sent_ids: list[int] = []
    with Session(relay_engine) as session:
        messages = session.scalars(unsent_oldest_first).all()
        try:
            for message_id in publish_each(messages):
                sent_ids.append(message_id)
        finally:
            if sent_ids:
                session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id.in_(sent_ids))
                    .values(sent_at=func.now())
                    .execution_options(synchronize_session=False)
                )
                session.commit()
    return len(sent_ids)


def relay_until_empty(batch_size: int = 100) -> int:
    """Run ``relay_pending`` until a pass finds less than a full batch."""
    total = 0
    while True:
        sent = relay_pending(batch_size)
        total += sent
        if sent < batch_size:
            return total


def count_unsent() -> int:
    with Session(engine) as session:
        query = select(func.count()).where(OutboxMessage.sent_at.is_(None))
        return session.execute(query).scalar_one()


def relay_once() -> int:
    """One pass for ``--once``: the exit status is 1 if the broker is down."""
    try:
        sent = relay_until_empty()
    except BrokerUnavailable as error:
        # One clear line: the traceback would only show kombu's retry machinery.
        logger.error(
            "broker unreachable, %d message(s) stay in the outbox: %s", count_unsent(), error
        )
        return 1
    logger.info("sent %d message(s)", sent)
    return 0


def relay_forever(every: float) -> NoReturn:
    """A pass every ``every`` seconds, riding out broker and database outages."""
    failing = False
    while True:
        try:
            sent = relay_until_empty()
        except (BrokerUnavailable, DatabaseUnavailable) as error:
            # Both heal when the server is back; the messages wait meanwhile.
            # One line per outage, not one per pass.
            if not failing:
                logger.warning("cannot relay, trying again every %ss: %s", every, error)
            failing = True
        else:
            if failing:
                logger.info("relaying again")
            failing = False
            if sent:
                logger.info("sent %d message(s)", sent)
        time.sleep(every)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=f"python -m {__package__}.outbox",
        description="Publish the tasks waiting in the outbox.",
    )
    parser.add_argument(
        "--once",
        action="store_true",
        help="relay what is waiting, then exit (status 1 if the broker is unreachable)",
    )
    options = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if options.once:
        return relay_once()
    relay_forever(settings.outbox_relay_every)


if __name__ == "__main__":
    raise SystemExit(main())

"""Idempotency keys: a POST retried with the same ``Idempotency-Key`` gets the first answer.

As the IETF httpapi draft "The Idempotency-Key HTTP Header Field" and Stripe
do it. A request with a key first claims it, in a short transaction of its
own, committed at once, so that a repeat arriving meanwhile sees the claim
(409) instead of waiting for the first request's transaction. The request then
does its work, and its answer is written onto the claimed row in the
transaction that does the work: the data, its task and the stored answer
commit together, or none does. A request that fails commits nothing and
releases the key, so a retry runs again. ``idempotent_post.py`` applies this
to a route.
"""

import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, NoReturn

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, scoped_session

from ..config import settings
from ..idempotency_keys import IdempotencyKey

logger = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255  # the column's
# The draft's key is a Structured Field string: printable ASCII, in quotes.
# Stripe's keys come bare; both are accepted, and stored without the quotes.
PRINTABLE_ASCII = frozenset(map(chr, range(0x20, 0x7F)))

Session_ = Session | scoped_session[Session]


class BadKey(ValueError):
    """The header is empty, too long or not printable ASCII: 400."""


class KeyInUse(Exception):
    """A request with this key is still running: 409, try again later."""


class KeyReused(Exception):
    """The key came with another request (method, path or body): 422."""


@dataclass(frozen=True)
class Replay:
    """The answer the key's first request committed, to send again."""

    status: int
    body: Any


@dataclass(frozen=True)
class Claim:
    key: str
    owner: str


def parse_key(header: str) -> str:
    """The key in the header, unquoted; at most MAX_KEY_LENGTH characters, quotes included."""
    key = header.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not set(key) <= PRINTABLE_ASCII:
        raise BadKey(
            f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable ASCII characters,"
            " bare or in double quotes (a UUID, for example)"
        )
    if len(key) > 2 and key[0] == key[-1] == '"' and key[1:-1].strip():
        return key[1:-1]
    return key


def fingerprint(method: str, path: str, body: bytes) -> str:
    """What must match for a repeat to be "the same request"."""
    digest = hashlib.sha256(f"{method} {path}\n".encode())
    digest.update(body)
    return digest.hexdigest()


def claim(session: Session_, key: str, request_fingerprint: str) -> Claim | Replay:
    """Claim ``key`` for this request, or say why not: the answer to replay, or an error.

    Reads before it writes, so that a repeat never waits on a write lock
    (SQLite's is the whole database's), and commits the claim at once.
    """
    existing = _look_up(session, key, request_fingerprint)
    if existing is not None:
        return existing
    owner = uuid.uuid4().hex
    session.add(IdempotencyKey(key=key, fingerprint=request_fingerprint, owner=owner))
    try:
        session.commit()
    except IntegrityError:  # claimed by a repeat between our read and our insert
        session.rollback()
        return _look_up(session, key, request_fingerprint) or _in_use()
    return Claim(key, owner)


def _look_up(session: Session_, key: str, request_fingerprint: str) -> Claim | Replay | None:
    found = session.execute(
        select(IdempotencyKey, func.now()).where(IdempotencyKey.key == key)
    ).one_or_none()
    session.rollback()  # ends the read, and its snapshot
    if found is None:
        return None
    row, now = found
    if row.fingerprint != request_fingerprint:
        raise KeyReused(f"{HEADER} {key!r} was used for a different request")
    if row.status is not None:
        return Replay(row.status, row.body)
    if now - row.claimed_at < timedelta(seconds=settings.idempotency_key_lease):
        return _in_use()
    return _take_over(session, row)


def _take_over(session: Session_, abandoned: IdempotencyKey) -> Claim:
    """A claim older than the lease: its request died unanswered. Ours, if nobody is quicker."""
    owner = uuid.uuid4().hex
    taken = session.execute(
        update(IdempotencyKey)
        .where(
            IdempotencyKey.key == abandoned.key,
            IdempotencyKey.owner == abandoned.owner,
            IdempotencyKey.status.is_(None),
        )
        .values(owner=owner, claimed_at=func.now())
        .execution_options(synchronize_session=False)
    )
    session.commit()
    if getattr(taken, "rowcount", 0) != 1:
        _in_use()
    logger.warning("%s %r: taking over a request that never answered", HEADER, abandoned.key)
    return Claim(abandoned.key, owner)


def _in_use() -> NoReturn:
    raise KeyInUse("a request with this Idempotency-Key is in progress; try again later")


def record(session: Session_, held: Claim, status: int, body: Any) -> None:
    """Store the answer on the claimed key, in the work's transaction: the caller commits.

    Raises ``KeyInUse`` if the claim was taken over meanwhile (the request ran
    past IDEMPOTENCY_KEY_LEASE): then the caller must roll back its work.
    """
    stored = session.execute(
        update(IdempotencyKey)
        .where(
            IdempotencyKey.key == held.key,
            IdempotencyKey.owner == held.owner,
            IdempotencyKey.status.is_(None),
        )
        .values(status=status, body=body)
        .execution_options(synchronize_session=False)
    )
    if getattr(stored, "rowcount", 0) != 1:
        _in_use()


def release(session: Session_, held: Claim) -> None:
    """Roll back, and free the key for a retry; the lease frees it if this fails."""
    try:
        session.rollback()
        session.execute(
            delete(IdempotencyKey)
            .where(
                IdempotencyKey.key == held.key,
                IdempotencyKey.owner == held.owner,
                IdempotencyKey.status.is_(None),
            )
            .execution_options(synchronize_session=False)
        )
        session.commit()
    except SQLAlchemyError:
        session.rollback()
        logger.warning("%s %r: could not release it", HEADER, held.key, exc_info=True)

"""``IdempotentPostDep``: a FastAPI POST route that accepts ``Idempotency-Key``.

Built on ``idempotency.py``. The route asks for it beside its session, does
its writes without committing, and ends with ``return once.commit(answer,
status)``: the answer is stored with the key in the work's transaction. A repeat never reaches the
route: ``replay_answer`` (registered in ``app.py``) sends the stored answer.
"""

from collections.abc import Iterator
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, HTTPException, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from .deps import SessionDep
from .idempotency import (
    HEADER,
    MAX_KEY_LENGTH,
    BadKey,
    Claim,
    KeyInUse,
    KeyReused,
    Replay,
    claim,
    fingerprint,
    parse_key,
    record,
    release,
)
from .schemas import Problem

Answer = TypeVar("Answer")

# What a route declares in ``responses=`` beside its own: the OpenAPI description lists them.
IDEMPOTENCY_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": f"The {HEADER} header is malformed"},
    409: {"model": Problem, "description": f"A request with this {HEADER} is in progress"},
    422: {"description": f"Invalid body, or an {HEADER} used for a different request"},
}


class Replayed(Exception):
    """Raised instead of running the route: the key's first answer goes out again."""

    def __init__(self, replay: Replay) -> None:
        self.replay = replay


def replay_answer(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, Replayed)
    replay = error.replay
    return JSONResponse(replay.body, replay.status, headers={"Idempotent-Replayed": "true"})


class IdempotentPost:
    """The route's way to commit: with its answer stored under the key, if one came."""

    def __init__(self, session: Session, held: Claim | None) -> None:
        self.session = session
        self.held = held
        self.committed = False

    def commit(self, answer: Answer, status_code: int) -> Answer:
        if self.held is not None:
            try:
                record(self.session, self.held, status_code, jsonable_encoder(answer))
            except KeyInUse as error:  # taken over: this request outlived its lease
                self.session.rollback()
                raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from error
        self.session.commit()
        self.committed = True
        return answer


async def request_body(request: Request) -> bytes:
    # FastAPI has read the body already; this hands the bytes to a sync dependency.
    return await request.body()


KeyHeader = Annotated[
    str | None,
    Header(
        alias=HEADER,
        min_length=1,
        max_length=MAX_KEY_LENGTH,
        pattern=r"^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$",
        description=(
            "Retry safely: a repeat with the same key and body gets the first answer"
            f" (kept for IDEMPOTENCY_KEY_RETENTION seconds), not a second effect."
            f" 1 to {MAX_KEY_LENGTH} printable ASCII characters, quotes included."
        ),
    ),
]


def idempotent_post(
    request: Request,
    session: SessionDep,
    body: Annotated[bytes, Depends(request_body)],
    key: KeyHeader = None,
) -> Iterator[IdempotentPost]:
    if key is None:
        yield IdempotentPost(session, None)
        return
    try:
        target = f"{request.url.path}?{request.url.query}".rstrip("?")
        request_fingerprint = fingerprint(request.method, target, body)
        outcome = claim(session, parse_key(key), request_fingerprint)
    except BadKey as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(error)) from error
    except KeyInUse as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from error
    except KeyReused as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, str(error)) from error
    if isinstance(outcome, Replay):
        raise Replayed(outcome)
    once = IdempotentPost(session, outcome)
    try:
        yield once
    finally:
        if not once.committed:
            release(session, outcome)


IdempotentPostDep = Annotated[IdempotentPost, Depends(idempotent_post)]

"""``@idempotent_post``: a Flask POST view that accepts ``Idempotency-Key``.

Built on ``idempotency.py``. The view, decorated, does its writes in
``db_session`` without committing and ends with ``return commit_answer(answer,
status)``: the answer is stored with the key in the work's transaction. A
repeat never reaches the view: the decorator sends the stored answer again.
"""

import functools
from collections.abc import Callable
from typing import Any

from flask import Response, g, jsonify, request

from ..db import db_session
from .idempotency import (
    HEADER,
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
from .problems import problem

View = Callable[..., tuple[Response, int]]


def idempotent_post(view: View) -> View:
    @functools.wraps(view)
    def with_key(*args: Any, **kwargs: Any) -> tuple[Response, int]:
        g.idempotency_claim = None
        header = request.headers.get(HEADER)
        if header is None:
            return view(*args, **kwargs)
        try:
            request_fingerprint = fingerprint(
                request.method, request.full_path.rstrip("?"), request.get_data()
            )
            outcome = claim(db_session, parse_key(header), request_fingerprint)
        except BadKey as error:
            return problem(str(error), 400)
        except KeyInUse as error:
            return problem(str(error), 409)
        except KeyReused as error:
            return problem(str(error), 422)
        if isinstance(outcome, Replay):
            replayed = jsonify(outcome.body)
            replayed.headers["Idempotent-Replayed"] = "true"
            return replayed, outcome.status
        g.idempotency_claim = outcome
        try:
            return view(*args, **kwargs)
        finally:
            if g.idempotency_claim is not None:  # the view did not commit
                release(db_session, outcome)

    return with_key


def commit_answer(answer: Any, status: int) -> tuple[Response, int]:
    """Commit the view's writes, with ``answer`` stored under the request's key if it has one."""
    held: Claim | None = g.get("idempotency_claim")
    if held is not None:
        try:
            record(db_session, held, status, answer)
        except KeyInUse as error:  # taken over: this request outlived its lease
            db_session.rollback()
            return problem(str(error), 409)
    db_session.commit()
    g.idempotency_claim = None
    return jsonify(answer), status

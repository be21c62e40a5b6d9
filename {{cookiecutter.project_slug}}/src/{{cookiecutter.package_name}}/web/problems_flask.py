"""Every error answer's shape, FastAPI's: ``{"detail": ...}`` and a status."""

from typing import Any

from flask import Response, jsonify


def problem(detail: Any, status: int) -> tuple[Response, int]:
    return jsonify(detail=detail), status

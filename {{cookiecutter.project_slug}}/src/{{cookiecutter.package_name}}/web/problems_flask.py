"""Every error answer's shape: ``{"detail": ...}`` and a status."""

from typing import Any

from flask import Response, jsonify


def problem(detail: Any, status: int) -> tuple[Response, int]:
    return jsonify(detail=detail), status

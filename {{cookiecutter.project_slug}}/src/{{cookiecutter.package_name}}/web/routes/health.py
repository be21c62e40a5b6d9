"""``/health``: does each server the service needs answer?"""

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ..server_checks import service_checks

router = APIRouter()


@router.get("/health", responses={503: {"description": "A server does not answer"}})
def health() -> JSONResponse:
    """200 when the database and the broker answer; 503 names the one that does not."""
    checks = service_checks()
    healthy = all(state == "ok" for state in checks.values())
    return JSONResponse(checks, status_code=200 if healthy else 503)

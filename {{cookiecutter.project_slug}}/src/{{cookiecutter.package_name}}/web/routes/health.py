"""``/health`` for people and dashboards, ``/health/ready`` for the readiness probe."""

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


@router.get("/health/ready")
async def ready() -> dict[str, str]:
    """200 while this process serves; it checks no server every pod shares.

    ``async``: answered on the event loop, not in the thread pool the
    requests waiting for a database connection hold. Once uvicorn has had
    SIGTERM it no longer listens, so the probe fails while it drains.
    """
    return {"status": "ready"}

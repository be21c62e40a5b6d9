"""Requests the web API answered, and how long each took, by route and status.

Written here rather than taken from the framework's exporter, which names and
labels its metrics its own way: a dashboard should not depend on which web
framework the service uses.
"""

from .metrics import Counter, Histogram

# Labelled by the route's template (/users/{user_id}), never by the path: one
# series per route, whatever ids the clients send.
UNMATCHED = "unmatched"

REQUESTS = Counter("http_requests_total", "Requests answered", ["method", "route", "status"])
DURATION = Histogram(
    "http_request_duration_seconds",
    "From the request's arrival to its answer",
    ["method", "route", "status"],
)


def count_request(method: str, route: str | None, status: int, seconds: float) -> None:
    labels = (method, route or UNMATCHED, str(status))
    REQUESTS.labels(*labels).inc()
    DURATION.labels(*labels).observe(seconds)

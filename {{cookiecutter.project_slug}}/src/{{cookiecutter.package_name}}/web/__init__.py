"""The HTTP API, the service's front door (``make web``)."""

from .app import app

__all__ = ["app"]

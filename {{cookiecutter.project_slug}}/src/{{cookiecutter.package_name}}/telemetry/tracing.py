"""Traces with OpenTelemetry, set up by the standard ``OTEL_*`` variables; off when none is set.

``OTEL_TRACES_EXPORTER`` (``console``, ``otlp``) turns tracing on; the SDK's own
configurator then reads the rest (``OTEL_SERVICE_NAME``,
``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_TRACES_SAMPLER``...). Unset, nothing is
set up, and tracing costs nothing. Each process starts tracing after any fork:
the exporter's thread does not survive one.
"""

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from opentelemetry import context, propagate, trace

from ..db import engine


def tracing_wanted() -> bool:
    exporters = os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    disabled = os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"
    return exporters not in ("", "none") and not disabled


def start_tracing() -> bool:
    """Export spans, and trace Celery's messages and this process's SQL; False when off."""
    if not tracing_wanted():
        return False
    # Imported only when tracing is on: every process would pay for them at start.
    from opentelemetry.distro import OpenTelemetryConfigurator
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    # The OpenTelemetry specification's default protocol; the Python SDK's is
    # gRPC, whose exporter this service does not install.
    os.environ.setdefault("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    # The distro and the Celery instrumentation carry no type hints.
    OpenTelemetryConfigurator().configure()  # type: ignore[no-untyped-call]
    CeleryInstrumentor().instrument()  # type: ignore[no-untyped-call]
    # The instrumentation declares sqlalchemy<2.1 and, on 2.1, does nothing
    # unless told to skip that check; tests/telemetry/ shows its spans arrive.
    SQLAlchemyInstrumentor().instrument(engine=engine, skip_dep_check=True)
    return True


def flush_spans() -> None:
    """Export what this process still holds: a prefork child exits without running atexit."""
    provider = trace.get_tracer_provider()
    force_flush = getattr(provider, "force_flush", None)
    if force_flush is not None:
        force_flush()


def current_trace_context() -> dict[str, str]:
    """The current span as W3C ``traceparent`` headers; empty outside a trace."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


@contextmanager
def within_trace(carrier: Mapping[str, str]) -> Iterator[None]:
    """Run the block as part of the trace ``current_trace_context`` gave ``carrier``."""
    token = context.attach(propagate.extract(carrier))
    try:
        yield
    finally:
        context.detach(token)

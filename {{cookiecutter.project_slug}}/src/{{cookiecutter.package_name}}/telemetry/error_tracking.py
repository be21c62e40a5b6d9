"""Errors reported to Sentry when SENTRY_DSN is set; unset, sentry-sdk is not even imported.

What is reported: a task's final failure (the Celery integration leaves out
its retries: each raises Celery's ``Retry``),
{%- if cookiecutter.web != 'none' %}
an exception a request does not handle (the web framework's integration),
{%- endif %}
and each line logged at ERROR (the outbox's dead letters, for one).
Each event carries SENTRY_ENVIRONMENT, the release (this package's version)
and, while a span is current, the OpenTelemetry trace id the logs show.
"""

import logging
from importlib.metadata import version
from typing import Any

from ..config import settings

DISTRIBUTION = "{{ cookiecutter.project_slug }}"
{%- if cookiecutter.web != 'none' %}


def start_error_tracking(web: bool = False) -> bool:
    """Report errors from this process; False (and nothing imported) when SENTRY_DSN is unset.

    ``web``: with the web framework's integration, for the web app's process.
    """
{%- else %}


def start_error_tracking() -> bool:
    """Report errors from this process; False (and nothing imported) when SENTRY_DSN is unset."""
{%- endif %}
    if not settings.sentry_dsn:
        return False
    # Imported only when on: a process without a DSN never loads sentry-sdk.
    import sentry_sdk
    from sentry_sdk.integrations import Integration
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.logging import LoggingIntegration
    from sentry_sdk.integrations.otlp import OTLPIntegration
    from sentry_sdk.integrations.sqlalchemy import SqlalchemyIntegration

    integrations: list[Integration] = [
        # Trace propagation is OpenTelemetry's job (tracing.py): no sentry-trace headers.
        CeleryIntegration(propagate_traces=False),
        SqlalchemyIntegration(),
        # ERROR lines become events; log lines go to the log store, not Sentry.
        LoggingIntegration(level=None, event_level=logging.ERROR),
        # Events take the current OpenTelemetry span's trace id; the spans
        # themselves go where OTEL_* says, not to Sentry.
        OTLPIntegration(setup_otlp_traces_exporter=False),
    ]
{%- if cookiecutter.web == 'fastapi' %}
    if web:
        from sentry_sdk.integrations.fastapi import FastApiIntegration
        from sentry_sdk.integrations.starlette import StarletteIntegration

        integrations += [StarletteIntegration(), FastApiIntegration()]
{%- elif cookiecutter.web == 'flask' %}
    if web:
        from sentry_sdk.integrations.flask import FlaskIntegration

        integrations.append(FlaskIntegration())
{%- endif %}
    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        environment=settings.sentry_environment,
        release=f"{DISTRIBUTION}@{version(DISTRIBUTION)}",
        integrations=integrations,
        # Only those above: none loads a library this process does not use.
        auto_enabling_integrations=False,
        before_send=leave_out_reconnect_attempts,
        # Data about people stays home: no user or IP address, no request body,
        # cookie, header or query string, no task arguments, no local variables
        # (a frame's may hold an e-mail address). SQL errors leave out their
        # values too (database/engine.py).
        data_collection={
            "user_info": False,
            "http_bodies": [],
            "cookies": {"mode": "off"},
            "http_headers": {"request": {"mode": "off"}},
            "url_query_params": {"mode": "off"},
            "database_query_data": False,
            "queues": False,
            "stack_frame_variables": False,
        },
    )
    return True


def leave_out_reconnect_attempts(event: Any, hint: dict[str, Any]) -> Any:
    """Not Celery's ERROR line at each attempt of a worker to reach its broker again: they heal."""
    # Here, not at the top: a process without a DSN need not load Celery's consumer.
    from celery.worker.consumer.consumer import CONNECTION_ERROR  # type: ignore[attr-defined]

    record = hint.get("log_record")
    if isinstance(record, logging.LogRecord) and record.msg == CONNECTION_ERROR:
        return None
    return event


def flush_errors() -> None:
    """Send what this process still holds: a prefork child exits without running atexit."""
    if settings.sentry_dsn:
        import sentry_sdk

        sentry_sdk.flush()

"""``python -m {{ cookiecutter.package_name }}.relay``: run the outbox relay, or look after the outbox (``--help``).

A program, so it sits above the app it loads (``[tool.importlinter]``); what
it runs lives in ``outbox/``, which takes the app as an argument.
"""

import argparse
from collections.abc import Sequence
from functools import partial

from .celery import app
from .config import settings
from .db import engine
from .delivery.queue_lengths import QueueLengths
{%- if cookiecutter.web != 'none' %}
from .idempotency_keys import purge_idempotency_keys
{%- endif %}
from .outbox.commands import dead_letters, describe, outbox_status, revive
from .outbox.gauges import OutboxGauges
from .outbox.loop import Relay, relay_once
from .telemetry.error_tracking import start_error_tracking
from .telemetry.logs import configure_logging
from .telemetry.metrics import serve_metrics, use_multiprocess_mode
from .telemetry.tracing import start_tracing
from .worker.task_records import purge_task_records

# Old rows of the service's other tables, deleted at each housekeeping.
PURGES = [
    partial(purge_task_records, engine, settings.task_record_retention),
{%- if cookiecutter.web != 'none' %}
    partial(purge_idempotency_keys, engine, settings.idempotency_key_retention),
{%- endif %}
]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m {{ cookiecutter.package_name }}.relay",
        description="Publish the tasks waiting in the outbox, or look after it.",
    )
    parser.add_argument(
        "--once",
        action="store_true",
        help="relay what is waiting, then exit (status 1 if the broker is unreachable)",
    )
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("status", help="unsent and dead counts, age of the oldest unsent")
    commands.add_parser("dead", help="list the dead letters")
    revive_parser = commands.add_parser("revive", help="retry dead letters")
    revive_parser.add_argument("ids", nargs="+", type=int, metavar="ID")
    options = parser.parse_args(argv)
    configure_logging()
    start_error_tracking()
    if start_tracing():
        # The Celery instrumentation ends a publish's span only for a task it
        # finds in the registry: the relay loads the worker's task modules.
        app.loader.import_default_modules()

    if options.command == "status":
        status = outbox_status()
        print(status)
        return 1 if status.stuck(settings.outbox_alert_after) else 0
    if options.command == "dead":
        for message in dead_letters():
            print(describe(message))
        return 0
    if options.command == "revive":
        print(f"revived {revive(options.ids)} message(s)")
        return 0
    if options.once:
        return relay_once(app, PURGES)
    if settings.metrics_port is not None:
        use_multiprocess_mode()
        serve_metrics(settings.metrics_port, QueueLengths(app), OutboxGauges())
    Relay(app, settings.outbox_relay_every, PURGES).run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Errors reach Sentry once each, with their trace id, from real processes; off without a DSN.

Sentry here is a receiver in the test (``support/sentry_receiver.py``); each
process under test reports to it as it would to sentry.io.
"""

import os
import random
import subprocess
import sys
from importlib.metadata import version

import pytest
from opentelemetry.trace import format_span_id, format_trace_id
from sqlalchemy import select
from sqlalchemy.orm import Session, scoped_session

from {{ cookiecutter.package_name }}.outbox import OutboxMessage

from ..support.environment import PROJECT_ROOT, TMP_DIR, queue_of
from ..support.otlp_receiver import otlp_receiver
from ..support.outbox_state import add_unpublishable, new_record, stored
from ..support.probe_tasks import has_imported, read_record
from ..support.processes import running_relay
from ..support.sentry_receiver import message_of, sentry_receiver, trace_id_of
from ..support.tcp_proxy import TcpProxy
from ..support.traces import run_span
from ..support.waiting import TIMEOUT, wait_until
from ..support.workers import ChildProcess, own_worker

RELEASE = "{{ cookiecutter.project_slug }}@" + version("{{ cookiecutter.project_slug }}")
# The programs' start, as each runs it, then whether sentry-sdk was loaded.
PROGRAMS_START = (
    "import sys;"
{%- if cookiecutter.web != 'none' %}
    " import {{ cookiecutter.package_name }}.web;"
{%- endif %}
    " from {{ cookiecutter.package_name }}.relay import main; main(['status']);"
    " print('sentry_sdk' in sys.modules)"
)


def sentry_loaded_by_the_programs() -> bool:
    started = subprocess.run(
        [sys.executable, "-c", PROGRAMS_START],
        cwd=PROJECT_ROOT,
        env={**os.environ, "SENTRY_DSN": ""},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert started.stderr.count("Traceback") == 0, started.stderr
    return started.stdout.splitlines()[-1] == "True"


@pytest.mark.usefixtures("session")
def test_without_a_dsn_no_process_loads_sentry(worker: ChildProcess) -> None:
    assert sentry_loaded_by_the_programs() is False
    # The run's worker, started without SENTRY_DSN: its pool process ran this.
    assert has_imported.delay("sentry_sdk").get(timeout=TIMEOUT) is False


@pytest.mark.usefixtures("broker", "session")
def test_a_task_that_fails_after_its_retries_is_reported_once_in_its_trace() -> None:
    retries = 2
    with sentry_receiver() as sentry, otlp_receiver() as otlp:
        env = {**sentry.env(), **otlp.env("worker"), "TASK_MAX_RETRIES": str(retries)}
        # The worker's own queue is its service queue, where a retry goes{% if cookiecutter.broker == 'rabbitmq' %} (and
        # where RabbitMQ's delayed delivery, which a retry's countdown takes, leads){% endif %}.
        env["CELERY_QUEUE"] = queue_of("sentry")
        # A new pool process for each attempt: each reports, or not, then exits.
        with own_worker("sentry", env=env, extra=["--max-tasks-per-child=1"]) as worker:
            result = read_record.apply_async((-1,), queue=queue_of("sentry"))
            # The log is the witness: rpc:// would tell the state only once read.
            failed = f"[{result.id}] raised unexpected"
            wait_until(lambda: failed in worker.log(), "the task's last attempt to fail")
            wait_until(lambda: run_span(otlp, result.id), "the task's span")
            run = run_span(otlp, result.id)
        # Stopped: every pool process has sent what it had.
        events = sentry.events()

    assert worker.log().count(f"[{result.id}] retry") == retries, worker.log()
    assert [message_of(event) for event in events] == ["NoResultFound: no record with id -1"]
    [event] = events
    assert event["extra"]["celery-job"]["task_name"] == read_record.name
    assert event["tags"]["celery_task_id"] == result.id
    # Nobody's data: neither the task's arguments nor its frames' variables.
    assert "args" not in event["extra"]["celery-job"]
    errors = event["exception"]["values"]
    frames = [frame for error in errors for frame in error["stacktrace"]["frames"]]
    assert frames
    assert not [frame for frame in frames if "vars" in frame]
    assert (event["environment"], event["release"]) == ("test", RELEASE)
    assert run is not None
    assert trace_id_of(event) == run.trace_id
    assert f"trace={run.trace_id}" in worker.log()


@pytest.mark.usefixtures("session")
def test_a_broker_outage_that_heals_is_not_reported(broker_server: str) -> None:
    with sentry_receiver() as sentry, TcpProxy.in_front_of(broker_server) as proxy:
        env = {**sentry.env(), "CELERY_BROKER_URL": proxy.url_through(broker_server)}
        with own_worker("sentry-outage", env=env) as worker:
            proxy.stop()
            wait_until(lambda: worker.log().count("Cannot connect to") >= 2, "two attempts")
            proxy.start()
            wait_until(lambda: worker.log().count("Connected to") >= 2, "the worker back")
        events = sentry.events()

    assert [message_of(event) for event in events] == []


@pytest.mark.usefixtures("broker")
def test_a_dead_letter_is_reported_once_in_its_writers_trace(
    session: scoped_session[Session],
) -> None:
    trace_id = format_trace_id(random.getrandbits(128))
    dead = add_unpublishable(session, new_record(session))
    message = session.scalars(select(OutboxMessage).where(OutboxMessage.task_id == dead)).one()
    # As add_to_outbox stores the writer's span.
    span_id = format_span_id(random.getrandbits(64))
    message.trace_context = {"traceparent": f"00-{trace_id}-{span_id}-01"}
    session.commit()

    attempts = 3
    env = {"OUTBOX_MAX_ATTEMPTS": str(attempts), "OUTBOX_RELAY_EVERY": "0.1"}
    with sentry_receiver() as sentry:
        with running_relay(TMP_DIR / "relay-sentry.log", {**sentry.env(), **env}) as relay:
            wait_until(lambda: stored(dead).dead_at is not None, "the dead letter")
        # Stopped: the relay has sent what it had.
        events = sentry.events()

    assert relay.log().count(f"could not publish outbox message {stored(dead).id}") == attempts - 1
    assert len(events) == 1, [message_of(event) for event in events]
    [event] = events
    assert message_of(event).startswith(f"outbox message {stored(dead).id} ({read_record.name}[")
    assert f"is a dead letter after {attempts} attempts" in message_of(event)
    assert (event["environment"], event["release"]) == ("test", RELEASE)
    assert trace_id_of(event) == trace_id
    assert f"trace={trace_id}" in relay.log()

"""Traces across real processes, exported over OTLP to a receiver in the test.

Off unless OTEL_TRACES_EXPORTER is set; on, a worker's task spans have their
SQL as children, every pool process flushes before it exits, and a task sent
through the outbox joins the trace of the transaction that wrote it.
"""

import os
import random
import sys

import pytest
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
from sqlalchemy.orm import Session, scoped_session

from {{ cookiecutter.package_name }}.telemetry.tracing import start_tracing

from ..support.environment import TMP_DIR, queue_of
from ..support.otlp_receiver import otlp_receiver
from ..support.probe_tasks import insert_record
from ..support.traces import PRODUCER, children, is_sql, run_span
from ..support.waiting import TIMEOUT, wait_until
from ..support.workers import ChildProcess, own_worker

TASKS = 6
# The relay, with the tests' own tasks loaded as the worker loads them
# (--include): the Celery instrumentation ends a publish span only for a task
# it knows.
RELAY_ONCE = (
    "import sys, tests.support.probe_tasks;"
    " from {{ cookiecutter.package_name }}.relay import main;"
    " sys.exit(main(['--once']))"
)


def test_tracing_is_off_without_an_exporter(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [name for name in os.environ if name.startswith("OTEL_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("OTEL_SERVICE_NAME", "named but not exported")

    assert start_tracing() is False
    assert not hasattr(trace.get_tracer_provider(), "force_flush")


@pytest.mark.usefixtures("broker", "session")
def test_each_pool_process_exports_its_spans_before_it_is_replaced() -> None:
    with (
        otlp_receiver() as receiver,
        # Each pool process runs one task, then exits and is replaced.
        own_worker(
            "traced-recycled", env=receiver.env("worker"), extra=["--max-tasks-per-child=1"]
        ),
    ):
        queue = queue_of("traced-recycled")
        results = [insert_record.apply_async((f"traced {n}",), queue=queue) for n in range(TASKS)]
        for result in results:
            result.get(timeout=TIMEOUT)
        wait_until(
            lambda: all(run_span(receiver, result.id) for result in results),
            "every task's span, each from a process that then exited",
        )

    for result in results:
        run = run_span(receiver, result.id)
        assert run is not None
        # The task's INSERT, traced although SQLAlchemy is newer than the
        # instrumentation declares.
        assert any(is_sql(span) for span in children(receiver, run)), run


@pytest.mark.usefixtures("broker", "session")
@pytest.mark.parametrize("pool", ["threads", "solo"])
def test_a_worker_without_pool_processes_traces_in_its_own(pool: str) -> None:
    with (
        otlp_receiver() as receiver,
        own_worker(f"traced-{pool}", pool=pool, env=receiver.env("worker")),
    ):
        result = insert_record.apply_async(("traced",), queue=queue_of(f"traced-{pool}"))
        result.get(timeout=TIMEOUT)
        wait_until(lambda: run_span(receiver, result.id), "the task's span")

    run = run_span(receiver, result.id)
    assert run is not None
    assert any(is_sql(span) for span in children(receiver, run)), run


@pytest.mark.usefixtures("broker")
def test_a_task_sent_through_the_outbox_joins_the_writers_trace(
    session: scoped_session[Session],
) -> None:
    queue = queue_of("traced-outbox")
    writer = SpanContext(
        trace_id=random.getrandbits(128),
        span_id=random.getrandbits(64),
        is_remote=False,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )
    # The writer's transaction, inside a span of the writer's trace.
    with trace.use_span(NonRecordingSpan(writer)):
        result = insert_record.apply_async_via_outbox(
            ("outbox traced",), session=session, queue=queue
        )
    session.commit()

    with (
        otlp_receiver() as receiver,
        own_worker("traced-outbox", env=receiver.env("worker")),
    ):
        relay = ChildProcess(
            [sys.executable, "-c", RELAY_ONCE], TMP_DIR / "relay-traced.log", receiver.env("relay")
        )
        relay.wait_until(relay.exited, "the relay's one pass", TIMEOUT)
        assert relay.process.returncode == 0, relay.log()
        # The run's span is the witness: rpc:// would answer only the relay.
        wait_until(lambda: run_span(receiver, result.id), "the task's span")

    run = run_span(receiver, result.id)
    assert run is not None
    publish = next(span for span in receiver.received() if span.span_id == run.parent_id)
    assert (publish.service, publish.kind) == ("relay", PRODUCER)
    assert publish.trace_id == run.trace_id == format(writer.trace_id, "032x")
    assert publish.parent_id == format(writer.span_id, "016x")

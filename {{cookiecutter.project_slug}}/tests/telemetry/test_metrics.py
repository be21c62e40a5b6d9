"""Metrics from real worker and relay processes, read as Prometheus reads them.

A prefork worker adds up the counts of all its pool processes, those that
have exited included, and one killed as it started fails no scrape; the relay
serves the queue's length while no worker runs, and the outbox's state.
"""

import os
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, scoped_session

from {{ cookiecutter.package_name }}.outbox.gauges import OutboxGauges
from {{ cookiecutter.package_name }}.telemetry.metrics import metrics_page
from {{ cookiecutter.package_name }}.telemetry.task_metrics import TASKS

from ..support.environment import TMP_DIR, queue_of
from ..support.metrics import parse, scrape_port, serves_metrics
from ..support.outbox_state import add_messages, add_unpublishable, new_record
from ..support.probe_tasks import end_attempt, insert_record
from ..support.processes import free_port, running_relay
from ..support.waiting import wait_until
from ..support.workers import own_worker

RUNS = "celery_tasks_total"
# How each of end_attempt's outcomes is counted; a retry runs again and succeeds.
SENT = {"succeed": 4, "fail": 1, "retry": 1, "ignore": 1, "reject": 1}
COUNTED = {"succeeded": 5, "failed": 1, "retried": 1, "ignored": 1, "rejected": 1}


@pytest.mark.usefixtures("broker", "session")
def test_a_prefork_worker_counts_the_runs_of_all_its_processes_by_outcome() -> None:
    port = free_port()
    queue = queue_of("metrics")
    with own_worker("metrics", env={"METRICS_PORT": str(port)}, extra=["--max-tasks-per-child=2"]):
        for outcome, times in SENT.items():
            for _ in range(times):
                end_attempt.apply_async((outcome,), queue=queue)
        # Due in 3 s: its wait counts from then, not from its publish. (The
        # embedded broker, polled each second, starts it up to a second late.)
        insert_record.apply_async(("later",), countdown=3, queue=queue)
        runs = sum(COUNTED.values()) + 1
        wait_until(lambda: scrape_port(port).value(RUNS) == runs, f"{runs} runs counted")
        metrics = scrape_port(port)

    for outcome, times in COUNTED.items():
        assert metrics.value(RUNS, task=end_attempt.name, outcome=outcome) == times, outcome
    for task, times in ((end_attempt.name, runs - 1), (insert_record.name, 1)):
        assert metrics.value("celery_task_runtime_seconds_count", task=task) == times
        assert metrics.value("celery_task_queue_wait_seconds_count", task=task) == times
    waits = "celery_task_queue_wait_seconds_bucket"
    assert metrics.value(waits, task=insert_record.name, le="2.5") == 1, "counted from its publish"


def test_a_scrape_leaves_out_the_file_of_a_process_killed_before_it_sized_it() -> None:
    # prometheus_client creates a process's file empty, then sizes it. The pid
    # is one no process has: Linux's pid_max is at most 4194304.
    unsized = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]) / "counter_4194305.db"
    TASKS.labels("a task of this test", "succeeded").inc()
    unsized.touch()
    try:
        page, _ = metrics_page()
    finally:
        unsized.unlink()

    assert parse(page.decode()).value(RUNS, task="a task of this test") == 1


@pytest.mark.usefixtures("broker")
def test_the_relay_serves_the_queue_length_while_no_worker_runs(
    session: scoped_session[Session], unwatched_queue: str
) -> None:
    port = free_port()
    env = {"METRICS_PORT": str(port), "CELERY_QUEUE": unwatched_queue, "OUTBOX_MAX_ATTEMPTS": "1"}
    with running_relay(TMP_DIR / "relay-metrics.log", env):
        wait_until(lambda: serves_metrics(port), "the relay to serve /metrics")
        add_messages(session, 3, unwatched_queue)
        add_unpublishable(session, new_record(session))
        session.commit()
        wait_until(
            lambda: scrape_port(port).value("celery_queue_length", queue=unwatched_queue) == 3,
            "three messages counted in the queue",
        )
        wait_until(
            lambda: scrape_port(port).value("outbox_dead_messages") == 1,
            "the unpublishable message counted dead",
        )
        metrics = scrape_port(port)

    assert metrics.value("outbox_unsent_messages") == 0
    assert metrics.has("celery_queue_length", queue=f"{unwatched_queue}.dead")


@pytest.mark.usefixtures("broker")
def test_the_outbox_gauges_count_what_waits_and_how_long(
    session: scoped_session[Session],
) -> None:
    add_messages(session, 2, queue_of("never-relayed"))

    def gauges() -> dict[str, float]:
        return {family.name: family.samples[0].value for family in OutboxGauges().collect()}

    wait_until(lambda: gauges()["outbox_oldest_unsent_age_seconds"] > 0, "the messages to age")
    assert gauges()["outbox_unsent_messages"] == 2
    assert gauges()["outbox_dead_messages"] == 0

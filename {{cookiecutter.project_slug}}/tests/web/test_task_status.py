"""``GET /tasks/{id}``: a task's state and outcome, read from the result backend."""

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session, scoped_session

from ..support.probe_tasks import end_attempt, read_record
from ..support.records import add_record
from ..support.results import results_are_stored
from ..support.waiting import wait_until


def status_once_it_is(api: httpx.Client, task_id: str, state: str) -> dict[str, Any]:
    wait_until(lambda: api.get(f"/tasks/{task_id}").json()["state"] == state, f"{state}")
    status: dict[str, Any] = api.get(f"/tasks/{task_id}").json()
    return status


def test_a_tasks_state_and_outcome_are_read_by_its_id(
    api: httpx.Client, session: scoped_session[Session]
) -> None:
    add_record(session, 1, "read over HTTP")
    task_id = read_record.delay(1).id
    if not results_are_stored():
        # rpc:// answers only the process that sent the task: refused with the reason.
        refused = api.get(f"/tasks/{task_id}")
        assert refused.status_code == 501
        assert "CELERY_RESULT_BACKEND" in refused.json()["detail"]
        return

    done = status_once_it_is(api, task_id, "SUCCESS")
    assert done["result"] == {"id": 1, "name": "read over HTTP"}
    assert done["retries"] == 0

    failed = status_once_it_is(api, end_attempt.delay("fail").id, "FAILURE")
    assert failed["error"] == "RuntimeError: failing on purpose, with a transaction open"

    never_sent = api.get(f"/tasks/{uuid.uuid4()}").json()
    assert never_sent["state"] == "PENDING"


@pytest.mark.parametrize("task_id", ["not-a-task-id", "1", "%00"])
def test_a_task_id_that_is_not_a_uuid_answers_4xx(api: httpx.Client, task_id: str) -> None:
    response = api.get(f"/tasks/{task_id}")

    assert 400 <= response.status_code < 500, response.text

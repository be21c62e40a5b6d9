"""Property-based tests of the HTTP API from its own OpenAPI description.

Schemathesis reads ``/openapi.json`` from the real server (``make web``),
generates requests from it, valid and invalid, and checks every answer with all
of its checks: never a 500, and each status code, content type and body as
the description declares. Its command line is run as a developer would run it.
"""

import subprocess
import sys
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.config import settings

from ..support.web_server import web_server

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
# Every check schemathesis has; 50 generated cases per operation and phase.
# One worker thread: with two, hypothesis parses lambdas' source in both at once,
# which CPython 3.11.7's parser did not survive once ("AST constructor recursion
# depth mismatch" in a run of the whole suite).
OPTIONS = ("--checks", "all", "--max-examples", "50", "--workers", "1")
# With rpc:// results GET /tasks/{task_id} answers 501 by design (shown in
# test_task_status.py); schemathesis counts every 5xx as a server error.
UNSTORED_RESULTS = ("--exclude-path", "/tasks/{task_id}")
# Schemathesis sends the same few Idempotency-Keys ("null", "0") with
# different bodies; the draft's answer to that is 422, which its check that
# valid data is accepted counts as a refusal. As it does 409 (the email is
# taken), it takes 422 as an answer to the server's state on POST /users alone.
STATEFUL_ANSWERS = """
[[operations]]
include-path = "/users"
include-method = "POST"
checks.positive_data_acceptance.expected-statuses = ["2xx", "409", "422"]
"""


@pytest.mark.usefixtures("session")  # empties the tables afterwards
def test_every_answer_matches_the_description_and_none_is_a_500(
    unwatched_queue: str, tmp_path: Path
) -> None:
    skipped = UNSTORED_RESULTS if settings.celery_result_backend.startswith("rpc") else ()
    config = tmp_path / "schemathesis.toml"
    config.write_text(STATEFUL_ANSWERS)
    # Its tasks go to a queue no worker takes: what it creates needs no task run.
    with web_server("schemathesis", {"CELERY_QUEUE": unwatched_queue}) as server:
        schema = f"{server.url}/openapi.json"
        run = subprocess.run(
            [SCHEMATHESIS, "--config-file", str(config), "run", schema, *OPTIONS, *skipped],
            capture_output=True,
            text=True,
            timeout=600,
        )

    # On failure the output names each case, with a curl command to replay it.
    assert run.returncode == 0, run.stdout + run.stderr

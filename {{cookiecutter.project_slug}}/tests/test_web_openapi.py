"""Property-based tests of the HTTP API from its own OpenAPI description.

Schemathesis reads ``/openapi.json`` from the real server (``make web``),
generates requests from it, valid and invalid, and checks every answer with all
of its checks: never a 500, and each status code, content type and body as
the description declares. Its command line is run as a developer would run it.
"""

import subprocess
import sys
from pathlib import Path

from sqlalchemy import delete

from {{ cookiecutter.package_name }}.db import session_factory
from {{ cookiecutter.package_name }}.models import User

from .broker_state import delete_queue
from .conftest import RUN_ID, TMP_DIR
from .web_server import running_web_server

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
# Every check schemathesis has; 50 generated cases per operation and phase.
# One worker thread: with two, hypothesis parses lambdas' source in both at once,
# which CPython 3.11.7's parser did not survive once ("AST constructor recursion
# depth mismatch" in a run of the whole suite).
OPTIONS = ("--checks", "all", "--max-examples", "50", "--workers", "1")


def test_every_answer_matches_the_description_and_none_is_a_500(broker: str) -> None:
    # Its tasks go to a queue no worker takes: generated users need no lookup.
    queue = f"test-{RUN_ID}-schemathesis"
    try:
        with running_web_server(
            TMP_DIR / "web-schemathesis.log", env={"CELERY_QUEUE": queue}
        ) as server:
            run = subprocess.run(
                [SCHEMATHESIS, "run", f"{server.url}/openapi.json", *OPTIONS],
                capture_output=True,
                text=True,
                timeout=600,
            )
    finally:
        delete_queue(queue)
        with session_factory() as session:
            session.execute(delete(User))
            session.commit()

    # On failure the output names each case, with a curl command to replay it.
    assert run.returncode == 0, run.stdout + run.stderr

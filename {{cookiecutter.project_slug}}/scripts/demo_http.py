"""The HTTP API at work, with a real server and a real worker: ``make demo`` runs this.

Like ``scripts.demo``, in embedded mode (SQLite files, no server). The API is
served by ``make web`` and every request goes over a real socket.
"""

import time
from pathlib import Path
from typing import Any

import httpx

from .processes import ChildProcess, running_worker, worker_command
from .web_process import running_web_server

LOG_DIR = Path("var/demo")
GET_FROM_DB = "{{ cookiecutter.package_name }}.tasks.get_from_db"


def expect(condition: bool, failure: str) -> None:
    if not condition:
        raise SystemExit(f"demo failed: {failure} (logs in {LOG_DIR})")


def finished(api: httpx.Client, task_id: str) -> dict[str, Any]:
    """``GET /tasks/{id}``, polled until the task has finished."""
    deadline = time.monotonic() + 60
    while True:
        status: dict[str, Any] = api.get(f"/tasks/{task_id}").json()
        if status["state"] in ("SUCCESS", "FAILURE"):
            return status
        expect(time.monotonic() < deadline, f"task {task_id} did not finish")
        time.sleep(0.1)


def lookups_received(worker: ChildProcess) -> int:
    """How many get_from_db messages the worker took from the queue."""
    return sum(
        f"{GET_FROM_DB}[" in line and "received" in line for line in worker.log().splitlines()
    )


def main() -> None:
    print(f"Starting a real worker and the web API (make web); their logs: {LOG_DIR}")
    with (
        running_worker(
            LOG_DIR / "worker-http.log", worker_command(node_name="demo-http")
        ) as worker,
        running_web_server(LOG_DIR / "web.log") as (_, url),
        httpx.Client(base_url=url, timeout=30) as api,
    ):
        print(f"5. The API answers on {url}.")
        created = []
        for name, email in [
            ("Alan Turing", "alan@example.com"),
            ("Ada Lovelace", "ada@example.org"),
        ]:
            response = api.post("/users", json={"name": name, "email": email})
            expect(response.status_code == 201, f"POST /users gave {response.status_code}")
            created.append(response.json())
            print(f"   POST /users {name!r} -> 201 {response.json()}")
        for user in created:
            status = finished(api, user["task_id"])
            expect(status["state"] == "SUCCESS" and status["retries"] == 0, f"task gave {status}")
            print(f"   GET /tasks/{user['task_id']} -> {status['state']},")
            print(f"   {status['retries']} retries, result {status['result']}")
        print("   Each task was sent once the request's transaction committed, so the")
        print("   worker found the new user on its first try.")

        duplicate = api.post("/users", json={"name": "Alan T.", "email": "alan@example.com"})
        expect(duplicate.status_code == 409, f"a duplicate gave {duplicate.status_code}")
        print(f"6. POST /users with a taken email -> 409 {duplicate.json()['detail']!r}")
        # A task sent later goes through the same queue, in order: had the
        # duplicate's been sent, the worker would have received it before.
        marker = api.post("/users", json={"name": "Barbara Liskov", "email": "barbara@example.com"})
        finished(api, marker.json()["task_id"])
        lookups = lookups_received(worker)
        expect(lookups == 3, f"the worker received {lookups} lookups, not 3")
        print(f"   The worker received {lookups} lookups for 3 users created: none for the")
        print("   refused request, whose transaction rolled back before anything was sent.")

        bad = api.post("/users", json={"name": "", "email": "not-an-email"})
        expect(bad.status_code == 422, f"bad input gave {bad.status_code}")
        fields = sorted(error["loc"][-1] for error in bad.json()["detail"])
        print(f"7. POST /users with bad input -> 422, naming {fields}.")
        print(f"   GET /health -> {api.get('/health').json()}")
    print("The web API and the worker have stopped.")


if __name__ == "__main__":
    main()

"""`make demo` in a baked project tells the post's story with a real worker."""

import re

from .conftest import TEMPLATE, Bake, run


def test_demo_shows_a_read_a_retried_read_a_refused_id_an_after_commit_send_and_the_api(
    bake: Bake,
) -> None:
    project = bake()

    output = run("make", "demo", cwd=project, timeout=600).stdout

    assert "on its first try" in output
    retried = re.search(
        r"The worker retried (\d+) time\(s\) with backoff,\s+then returned (.+)", output
    )
    assert retried, output
    assert int(retried.group(1)) >= 1
    assert "'name': 'Grace Hopper'" in retried.group(2)
    assert "failed at once with ValueError" in output
    assert re.search(
        r"the worker had not received it before the commit\s+\(a task sent later had already"
        r" run\); it was sent when that transaction\s+committed, and the worker returned "
        r"\{[^}]*'Edsger Dijkstra'[^}]*\} on its first try",
        output,
    ), output
    assert "The worker has stopped." in output

    # Then the default bake's web API: the same story over HTTP.
    created = re.findall(r"POST /users '[^']+' -> 201 \{'id': (\d+), 'task_id'", output)
    assert len(created) == 2, output
    assert output.count("SUCCESS,\n   0 retries, result {'id': ") == 2, output
    assert "POST /users with a taken email -> 409" in output
    assert "The worker received 3 lookups for 3 users created" in output
    assert "-> 422, naming ['email', 'name']" in output
    assert "GET /health -> {'database': 'ok', 'broker': 'ok'}" in output
    assert "The web API and the worker have stopped." in output


def test_without_a_web_api_the_demo_tells_the_task_story_only(bake: Bake) -> None:
    project = bake(web="none")

    output = run("make", "demo", cwd=project, timeout=600).stdout

    assert "The worker has stopped." in output
    assert "POST /users" not in output


def test_template_readme_quick_start_is_the_two_commands() -> None:
    readme = (TEMPLATE / "README.md").read_text()
    quick_start = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]

    commands = re.findall(r"^make \w+", quick_start, flags=re.MULTILINE)
    assert commands == ["make demo", "make test"]
    assert "make test" in (TEMPLATE / ".ci" / "run").read_text()

"""``python -m {{ cookiecutter.package_name }}.dead_tasks``: list the dead tasks, or send one again.

A program, so it sits above the app it loads (``[tool.importlinter]``); the
dead-task queue itself is ``delivery/dead_task_queue.py``.
"""

import argparse
from collections.abc import Sequence

from .celery import app
from .delivery.dead_task_queue import dead_tasks, requeue


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m {{ cookiecutter.package_name }}.dead_tasks",
        description="Look after the dead tasks: those whose worker process died on every delivery.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list the dead tasks: id, name, arguments, why")
    requeue_parser = commands.add_parser("requeue", help="send a dead task to the workers again")
    requeue_parser.add_argument("task_id", metavar="TASK_ID")
    options = parser.parse_args(argv)

    if options.command == "list":
        for task in dead_tasks(app):
            print(task)
        return 0
    if requeue(app, options.task_id):
        print(f"requeued {options.task_id}")
        return 0
    print(f"no dead task {options.task_id}")
    return 1


if __name__ == "__main__":
    raise SystemExit(main())

"""``python -m tests.support.vhost_round_trip VHOST JOURNAL``: a producer on a vhost of its own.

Run with CELERY_BROKER_URL on that vhost. It sends tasks the ways the service
does (a countdown, a retry, a queue named on the spot), waits for their results
over the broker, then prints the vhost's queues as JSON while its own reply
queue still exists.
"""

import json
import sys
from dataclasses import asdict
from pathlib import Path

from {{ cookiecutter.package_name }}.config import settings

from .probe_tasks import die_while, end_attempt
from .rabbitmq_vhost import queues_in
from .waiting import TIMEOUT


def main(vhost: str, journal: Path) -> None:
    no_flag = str(journal.with_name("absent"))
    counted_down = die_while.apply_async((no_flag, str(journal)), countdown=1)
    retried = end_attempt.delay("retry")
    # To a queue Celery creates on its own, which no worker takes.
    die_while.apply_async((no_flag, str(journal)), queue=f"{settings.celery_queue}-other")
    results = [counted_down.get(timeout=TIMEOUT), retried.get(timeout=TIMEOUT)]
    print(json.dumps({"results": results, "queues": [asdict(queue) for queue in queues_in(vhost)]}))


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))

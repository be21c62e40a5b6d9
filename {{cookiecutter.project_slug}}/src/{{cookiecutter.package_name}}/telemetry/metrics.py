"""Metrics in Prometheus's text format, added up across the processes this one forks.

prometheus_client's multiprocess mode: each process (a prefork pool process, a
web server's worker) writes its counts to files of its own in one directory, and
whoever serves ``/metrics`` adds up the files. Without it, a pool process's
counts would leave with it and a scrape would see one process of many.
A process that counts or serves metrics calls ``use_multiprocess_mode()`` as
it starts, before it forks and before its first count: the worker's main
process (``worker/signals.py``), the relay, the web app (and the master of
a forking web server). Importing this module sets nothing up and creates no
file. A
labelled metric, as every one here is, makes each series' value at its first
``labels()``, so modules may define metrics before the mode is set.
"""

import atexit
import glob
import os
import shutil
import tempfile
from collections.abc import Iterable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    start_http_server,
    values,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

__all__ = [
    "Collector",
    "Counter",
    "GaugeMetricFamily",
    "Histogram",
    "metrics_page",
    "serve_metrics",
]

# Seconds, for tasks and waits that last from milliseconds to TASK_TIME_LIMIT.
SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


def remove_own_directory(directory: str, creator: int) -> None:
    if os.getpid() == creator:  # not a forked web server worker leaving
        shutil.rmtree(directory, ignore_errors=True)


def use_multiprocess_mode() -> None:
    """Count in files of one directory, inherited by the processes forked after this."""
    # A directory of this process's own, removed when it exits; one given in
    # the environment is its owner's to empty between runs.
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        directory = tempfile.mkdtemp(prefix="metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
        atexit.register(remove_own_directory, directory, os.getpid())
    # prometheus_client picks the mode when first imported, from that variable,
    # and was imported before it was set: by this module, or by Flower, a
    # plugin of the celery command, before the worker loads this service.
    if values.ValueClass is values.MutexValue:
        values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]


class SizedFilesCollector(MultiProcessCollector):
    """prometheus_client's collector, leaving out the files not sized yet.

    A process creates its file empty and sizes it a moment later; read in that
    moment, the file fails the whole scrape, and a process killed in it leaves
    a file that fails every scrape after (client_python issue 1199). An empty
    file holds no counts, so leaving it out loses none.
    """

    def collect(self) -> Iterable[Metric]:
        files = glob.glob(os.path.join(self._path, "*.db"))
        sized = [file for file in files if os.path.getsize(file) > 0]
        merged: Iterable[Metric] = self.merge(sized, accumulate=True)  # type: ignore[no-untyped-call]
        return merged


def registry(*collectors: Collector) -> CollectorRegistry:
    """Every process's counts, and ``collectors`` read afresh at each scrape."""
    registry = CollectorRegistry()
    SizedFilesCollector(registry)  # type: ignore[no-untyped-call]
    for collector in collectors:
        registry.register(collector)
    return registry


def metrics_page(*collectors: Collector) -> tuple[bytes, str]:
    """The body of a ``/metrics`` answer, and its content type."""
    return generate_latest(registry(*collectors)), CONTENT_TYPE_LATEST


def serve_metrics(port: int, *collectors: Collector) -> None:
    """Answer ``GET /metrics`` on ``port``, from a thread of this process."""
    start_http_server(port, registry=registry(*collectors))

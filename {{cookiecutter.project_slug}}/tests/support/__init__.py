"""Helpers for the tests: the run's database and queue, processes, servers' state, probe tasks.

Importing any of them first points the settings at this run's own database and
queue (``environment.py``), before a helper can build the engine or the Celery app.
"""

from .environment import use_this_runs_database_and_queue

use_this_runs_database_and_queue()

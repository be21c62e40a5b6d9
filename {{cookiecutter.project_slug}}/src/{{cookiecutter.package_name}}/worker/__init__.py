"""The Celery side of the plumbing: the task base class and the worker's signal handlers."""

"""The service's Celery app as its owner configures it once the samples are gone.

It includes only the owner's tasks (``owner_tasks.py``), none of the samples'
or the tests' probe tasks: a worker started with ``app="tests.support.owner_app"``
runs what a project made from this template runs.
"""

from {{ cookiecutter.package_name }}.celery import app

app.conf.include = ["tests.support.owner_tasks"]

__all__ = ["app"]

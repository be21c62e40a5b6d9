"""The app as its owner configures it after replacing the sample tasks.

``celery -A tests.user_app worker`` imports only ``tests.user_tasks``, never
the sample ``tasks`` module.
"""

from {{ cookiecutter.package_name }}.celery import app

app.conf.include = ["tests.user_tasks"]

__all__ = ["app"]

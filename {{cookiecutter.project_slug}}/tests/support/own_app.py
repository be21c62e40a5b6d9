"""The app as its owner configures it once the samples are gone, with only their tasks."""

from {{ cookiecutter.package_name }}.celery import app

app.conf.include = ["tests.support.own_tasks"]

__all__ = ["app"]

"""The service: settings, database, Celery app, models and tasks."""

"""Settings, read from the environment, then ``.env``, then the defaults below.

This module imports nothing of Celery or SQLAlchemy, so any script can read
settings cheaply.
"""

from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # Where the data lives. Any SQLAlchemy URL works: sqlite:///path.sqlite3 runs
    # without a server (see "Embedded mode" in the README).
    database_url: str = "{{ cookiecutter._default_database_urls[cookiecutter.database] }}"
    # Pool sizing per process. A prefork child runs one task at a time, so it
    # needs one connection; the threads pool needs one per thread.
    db_pool_size: int = Field(default=5, ge=1)
    db_max_overflow: int = Field(default=5, ge=0)
    # Recycle connections before a server-side idle timeout (MySQL's
    # wait_timeout, a proxy's idle limit) closes them under us.
    db_pool_recycle: int = Field(default=1800, ge=1)
    # Seconds to wait for the server to accept a connection.
    db_connect_timeout: int = Field(default=10, ge=1)
    # Seconds a starting worker (or `make migrate`) waits for the database to
    # answer before it gives up.
    db_wait_timeout: float = Field(default=60.0, gt=0)
    # The server cancels any statement that runs longer (PostgreSQL
    # statement_timeout, MariaDB max_statement_time, MySQL max_execution_time
    # for SELECTs); 0 means no limit. A hung query then fails the task instead
    # of holding its process. Raise it for a long migration:
    # DB_STATEMENT_TIMEOUT=0 make migrate.
    db_statement_timeout: float = Field(default=60.0, ge=0)

    celery_broker_url: str = "{{ cookiecutter._default_broker_urls[cookiecutter.broker] }}"
    celery_result_backend: str = "{{ cookiecutter._default_result_backends[cookiecutter.broker] }}"
    # One queue per service, so services sharing a broker never take each
    # other's tasks.
    celery_queue: str = "{{ cookiecutter.package_name }}"
    # Redis redelivers an unacknowledged task after this many seconds. It must
    # be longer than the longest task and the longest retry delay.
    celery_visibility_timeout: int = Field(default=3600, ge=1)

    # Time limits per task attempt, in seconds (prefork pool). At the soft limit
    # the task gets SoftTimeLimitExceeded and can clean up; at the hard limit
    # its process is killed and replaced.
    task_soft_time_limit: float = Field(default=300.0, gt=0)
    task_time_limit: float = Field(default=330.0, gt=0)

    # Retry policy for transient failures (a row not committed yet, a dropped
    # connection): exponential backoff with jitter, TASK_RETRY_DELAY * 2**n
    # seconds capped at TASK_RETRY_BACKOFF_MAX, at most TASK_MAX_RETRIES times.
    task_max_retries: int = Field(default=10, ge=0)
    task_retry_delay: float = Field(default=1.0, gt=0)
    task_retry_backoff_max: float = Field(default=600.0, gt=0)

    # The workers' log level: DEBUG, INFO, WARNING, ERROR.
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"

    # Seconds between two passes of the outbox relay (make relay): about the
    # longest a committed message waits in the outbox while the broker is up.
    outbox_relay_every: float = Field(default=1.0, gt=0)
    # Publishing attempts before a message the broker keeps refusing becomes a
    # dead letter (`python -m ...outbox dead` lists them).
    outbox_max_attempts: int = Field(default=5, ge=1)
    # Seconds a sent message stays in the table before the relay deletes it.
    outbox_retention: float = Field(default=7 * 24 * 3600, gt=0)
    # The relay warns, and `outbox status` exits 1, once the oldest unsent
    # message is older than this many seconds: the relay is stuck or down.
    outbox_alert_after: float = Field(default=300.0, gt=0)

{%- if cookiecutter.use_beat %}

    # Seconds between runs of the sample periodic task (celery beat).
    count_users_every: float = Field(default=300.0, gt=0)
{%- endif %}

    @model_validator(mode="after")
    def limits_fit_inside_each_other(self) -> "Settings":
        # The database cancels a slow statement before the soft limit interrupts
        # the task mid-query, so the task fails with the server's clear error.
        if self.db_statement_timeout >= self.task_soft_time_limit:
            raise ValueError(
                f"DB_STATEMENT_TIMEOUT ({self.db_statement_timeout:g}s) must be shorter"
                f" than TASK_SOFT_TIME_LIMIT ({self.task_soft_time_limit:g}s)"
            )
        if self.task_soft_time_limit >= self.task_time_limit:
            raise ValueError(
                f"TASK_SOFT_TIME_LIMIT ({self.task_soft_time_limit:g}s) must be shorter"
                f" than TASK_TIME_LIMIT ({self.task_time_limit:g}s)"
            )
        # Redis hands an unacknowledged task out again after the visibility
        # timeout. Under late acks a task is unacknowledged while it runs (up to
        # the hard limit) and while it waits for a retry (up to the backoff cap).
        longest_hold = self.task_time_limit + self.task_retry_backoff_max
        if longest_hold >= self.celery_visibility_timeout:
            raise ValueError(
                f"CELERY_VISIBILITY_TIMEOUT ({self.celery_visibility_timeout}s) must be longer"
                f" than TASK_TIME_LIMIT + TASK_RETRY_BACKOFF_MAX ({longest_hold:g}s)"
            )
        return self


settings = Settings()

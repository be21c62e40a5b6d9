"""Settings, read from the environment, then ``.env``, then the defaults below.

Each setting is described in the README's Configuration table. This module
imports nothing of Celery or SQLAlchemy, so any script can read settings cheaply.
The broker's own settings and their checks come from ``broker_settings.py``.
"""

from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from .broker_settings import BrokerSettings


class Settings(BrokerSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = "{{ cookiecutter._default_database_urls[cookiecutter.database] }}"
{%- if cookiecutter.database == 'postgresql' %}
    # The server itself, where DATABASE_URL goes through a transaction pooler
    # (PgBouncer): migrations and the relay's LISTEN need a session of their own.
    database_direct_url: str | None = None
{%- endif %}
    # Per process: a prefork child needs one connection, a threads worker one per thread.
    db_pool_size: int = Field(default=5, ge=1)
    db_max_overflow: int = Field(default=5, ge=0)
    # Below any server-side idle timeout (the database's, a proxy's).
    db_pool_recycle: int = Field(default=1800, ge=1)
    db_connect_timeout: int = Field(default=10, ge=1)
    db_wait_timeout: float = Field(default=60.0, gt=0)
    db_statement_timeout: float = Field(default=60.0, ge=0)
    # Migrations run without the statement timeout; this bounds their wait for a
    # lock, during which every other user of the table queues behind them.
    migration_lock_timeout: int = Field(default=5, ge=1)

    celery_broker_url: str = "{{ cookiecutter._default_broker_urls[cookiecutter.broker] }}"
    celery_result_backend: str = "{{ cookiecutter._default_result_backends[cookiecutter.broker] }}"
    # One queue per service, so services sharing a broker never take each other's tasks.
    celery_queue: str = "{{ cookiecutter.package_name }}"

    task_soft_time_limit: float = Field(default=300.0, gt=0)
    task_time_limit: float = Field(default=330.0, gt=0)
    task_max_retries: int = Field(default=10, ge=0)
    task_retry_delay: float = Field(default=1.0, gt=0)
    task_retry_backoff_max: float = Field(default=600.0, gt=0)
    # A task whose worker process dies this many times is dead (docs/design.md).
    task_max_deliveries: int = Field(default=3, ge=1)

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    # json: one object a line, with the trace and task ids as fields.
    log_format: Literal["text", "json"] = "text"
    # The worker and the relay serve /metrics here when set; the web API on its own port.
    # Errors go to Sentry when set (telemetry/error_tracking.py); unset, it is not even imported.
    sentry_dsn: str | None = None
    sentry_environment: str = "production"
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    # Each long-running process touches this file from its loop (liveness.py).
    heartbeat_file: str | None = None
    heartbeat_every: float = Field(default=10.0, gt=0)

    outbox_relay_every: float = Field(default=1.0, gt=0)
    outbox_max_attempts: int = Field(default=5, ge=1)
    outbox_retention: float = Field(default=7 * 24 * 3600, gt=0)
    outbox_alert_after: float = Field(default=300.0, gt=0)
    # Seconds a once=True task's record is kept: longer than a message can be redelivered.
    task_record_retention: float = Field(default=7 * 24 * 3600, gt=0)
{%- if cookiecutter.web != 'none' %}

    # How long a POST's Idempotency-Key answers a retry with the first answer.
    idempotency_key_retention: float = Field(default=24 * 3600, gt=0)
    # A request that claimed a key and neither answered nor released it in this
    # time died: a retry with the key runs instead of answering 409.
    idempotency_key_lease: float = Field(default=60.0, gt=0)
{%- endif %}

{%- if cookiecutter.use_beat %}

    count_users_every: float = Field(default=300.0, gt=0)
{%- endif %}

    @property
    def direct_database_url(self) -> str:
        """Where migrations run and the relay listens: the server itself."""
{%- if cookiecutter.database == 'postgresql' %}
        return self.database_direct_url or self.database_url
{%- else %}
        return self.database_url
{%- endif %}

    @model_validator(mode="after")
    def limits_fit_inside_each_other(self) -> "Settings":
        """Refuse limits that do not nest (docs/design.md, "Time limits")."""
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
        return self


settings = Settings()

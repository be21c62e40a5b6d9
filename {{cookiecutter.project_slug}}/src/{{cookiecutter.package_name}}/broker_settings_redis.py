"""Redis's own settings, mixed into ``config.Settings``.

Redis hands an unacknowledged task out again after the visibility timeout.
This module imports nothing of the package: ``config.py`` stays the lowest layer.
"""

from typing import TYPE_CHECKING, Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings


class BrokerSettings(BaseSettings):
    celery_visibility_timeout: int = Field(default=3600, ge=1)

    if TYPE_CHECKING:
        # Settings' own (config.py), which the check below reads.
        task_time_limit: float
        task_retry_backoff_max: float

    @property
    def longest_countdown(self) -> float:
        """The longest countdown ``add_to_outbox`` accepts.

        On Redis the worker holds a task whose countdown has not run out,
        unacknowledged: any longer, and Redis would hand it out again.
        """
        return float(self.celery_visibility_timeout)

    @model_validator(mode="after")
    def broker_limits_fit(self) -> Self:
        """Refuse limits that outlast the visibility timeout (docs/design.md, "Time limits")."""
        # Under late acks a task is unacknowledged while it runs and while it
        # waits for a retry.
        longest_hold = self.task_time_limit + self.task_retry_backoff_max
        if longest_hold >= self.celery_visibility_timeout:
            raise ValueError(
                f"CELERY_VISIBILITY_TIMEOUT ({self.celery_visibility_timeout}s) must be longer"
                f" than TASK_TIME_LIMIT + TASK_RETRY_BACKOFF_MAX ({longest_hold:g}s)"
            )
        return self

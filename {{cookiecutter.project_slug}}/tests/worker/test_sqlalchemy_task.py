"""``SqlAlchemyTask``'s retry policy, without a worker."""

from {{ cookiecutter.package_name }}.config import settings
from {{ cookiecutter.package_name }}.worker.sqlalchemy_task import SqlAlchemyTask, backoff_delay

from ..support.probe_tasks import read_record


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    for retries in range(12):
        full = min(settings.task_retry_backoff_max, settings.task_retry_delay * 2**retries)
        delays = {backoff_delay(retries) for _ in range(50)}
        assert all(full / 2 <= delay <= full for delay in delays)
        assert len(delays) > 1, "jitter spreads out retries"


def test_a_task_on_the_base_class_retries_as_often_as_settings_say() -> None:
    assert isinstance(read_record, SqlAlchemyTask)
    assert read_record.max_retries == settings.task_max_retries

"""Bad answers stop generation with one clear line and leave nothing behind."""

import subprocess
from pathlib import Path

import pytest

from .conftest import BIN, TEMPLATE


def generate(tmp_path: Path, *answers: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BIN / "cookiecutter", "--no-input", "--output-dir", tmp_path, TEMPLATE, *answers],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        (["project_slug=My_Service"], "project_slug 'My_Service' must be lowercase"),
        (["project_slug=-service"], "project_slug '-service' must be lowercase"),
        (["project_slug=my--service"], "project_slug 'my--service' must be lowercase"),
        (["package_name=9lives"], "package_name '9lives' must be lowercase"),
        (["package_name=My_Pkg"], "package_name 'My_Pkg' must be lowercase"),
        (["project_name=class"], "package_name 'class' is a Python keyword"),
        (["project_name=match"], "package_name 'match' is a Python keyword"),
        (["project_name=celery"], "package_name 'celery' would shadow the module 'celery'"),
        (["project_name=sqlalchemy"], "package_name 'sqlalchemy' would shadow"),
        (["project_name=alembic"], "package_name 'alembic' would shadow"),
        (["project_name=redis"], "package_name 'redis' would shadow"),
        (["project_name=kombu"], "package_name 'kombu' would shadow"),
        (["project_name=test"], "package_name 'test' would shadow"),
        (["project_name=logging"], "package_name 'logging' would shadow"),
        (["author_email=not-an-email"], "author_email 'not-an-email' is not a valid email"),
        (["author_email=a@b"], "author_email 'a@b' is not a valid email"),
        (['author_email=x"@example.com'], "author_email 'x\"@example.com' is not a valid"),
    ],
)
def test_bad_answer_is_rejected_with_one_line_and_no_folder(
    tmp_path: Path, answers: list[str], message: str
) -> None:
    result = generate(tmp_path, *answers)

    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR: ")]
    assert len(errors) == 1, result.stderr
    assert message in errors[0]
    assert list(tmp_path.iterdir()) == [], "a rejected answer leaves no folder behind"


def test_good_answers_pass_the_same_checks(tmp_path: Path) -> None:
    result = generate(tmp_path, "project_name=Order Sync 2", "author_email=dev@shop.example")

    assert result.returncode == 0, result.stderr
    assert (tmp_path / "order-sync-2" / "src" / "order_sync_2" / "tasks.py").exists()

"""Bad answers stop generation with one clear line and leave nothing behind."""

import ast
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from .conftest import BIN, TEMPLATE, Bake, run, runtime_requirements

# Names the hook's package rule lets through; others need no entry in the list.
PACKAGE_NAME = r"[a-z][a-z0-9]*(_[a-z0-9]+)*"


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
        (["project_name=celery"], "package_name 'celery' would shadow the module or folder"),
        (["project_name=dotenv"], "package_name 'dotenv' would shadow"),
        (["project_name=pydantic_settings"], "package_name 'pydantic_settings' would shadow"),
        (["project_name=billiard"], "package_name 'billiard' would shadow"),
        (["project_name=migrations"], "package_name 'migrations' would shadow"),
        (["project_name=docs"], "package_name 'docs' would shadow"),
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


def shadowed_names() -> set[str]:
    """The hook's SHADOWED_NAMES, evaluated from its source (it is a Jinja template)."""
    source = (TEMPLATE / "hooks" / "pre_gen_project.py").read_text()
    tree = ast.parse(source)
    names: dict[str, set[str]] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Set):
            target = node.targets[0]
            assert isinstance(target, ast.Name)
            names[target.id] = set(ast.literal_eval(node.value))
    return names["INSTALLED_MODULES"] | names["PROJECT_FOLDERS"] | set(sys.stdlib_module_names)


def test_every_module_a_baked_project_installs_is_refused_as_a_package_name(
    bake: Bake, tmp_path: Path
) -> None:
    # Every variant's dependencies, the dev tools and Flower, in one environment.
    requirements = set()
    for answers in (
        {},
        {"database": "mysql", "broker": "rabbitmq", "web": "flask"},
        {"database": "sqlite"},
    ):
        project = bake(**answers)
        extras = tomllib.loads((project / "pyproject.toml").read_text())["project"]
        requirements |= set(runtime_requirements(project)) | set(
            extras["optional-dependencies"].get("flower", [])
        )
    venv = tmp_path / "venv"
    run(BIN / "uv", "venv", "--quiet", "--python", sys.executable, venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    run(BIN / "uv", "pip", "install", "--quiet", "--python", python, *requirements, cwd=tmp_path)
    listing = run(
        python,
        "-c",
        "import importlib.metadata, json;"
        " print(json.dumps(sorted(importlib.metadata.packages_distributions())))",
        cwd=tmp_path,
    )

    installed = {name for name in json.loads(listing.stdout) if re.fullmatch(PACKAGE_NAME, name)}
    assert installed, "the environment lists its modules"
    assert sorted(installed - shadowed_names()) == [], "add these to INSTALLED_MODULES"

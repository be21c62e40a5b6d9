"""The generated project's tooling: pre-commit, uv and pip installs, cruft updates.

There is no access to GitHub here, so pre-commit cannot clone the ruff and
pre-commit-hooks repositories: their part of the config is checked as data and
by `pre-commit validate-config`; the local mypy hook, which needs no clone, runs
for real.
"""

import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import yaml
from packaging.specifiers import SpecifierSet

from .conftest import BIN, TEMPLATE, Bake, option_values, run

CONFIG = ".pre-commit-config.yaml"
# Commits in throwaway repositories: no global git identity needed.
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Template Tests",
    "GIT_AUTHOR_EMAIL": "tests@example.com",
    "GIT_COMMITTER_NAME": "Template Tests",
    "GIT_COMMITTER_EMAIL": "tests@example.com",
}


def commit_all(repo: Path, message: str) -> str:
    run("git", "add", "-A", cwd=repo, env=GIT_ENV)
    run("git", "commit", "--quiet", "--no-verify", "-m", message, cwd=repo, env=GIT_ENV)
    return run("git", "rev-parse", "HEAD", cwd=repo).stdout.strip()


def git_init(repo: Path) -> None:
    run("git", "init", "--quiet", "--initial-branch=main", cwd=repo)


def hooks_by_id(config: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    return {hook["id"]: (repo["repo"], hook) for repo in config["repos"] for hook in repo["hooks"]}


def every_other_value() -> dict[str, Any]:
    """The last value of every option: a bake unlike the defaults in every way."""
    return {key: values[-1] for key, values in option_values().items()}


def test_pre_commit_config_is_the_same_file_in_every_bake(bake: Bake) -> None:
    default = (bake() / CONFIG).read_bytes()
    other = (bake(**every_other_value()) / CONFIG).read_bytes()
    source = (TEMPLATE / "{{cookiecutter.project_slug}}" / CONFIG).read_bytes()

    assert default == other == source
    assert b"{{" not in source
    assert b"{%" not in source


def test_pre_commit_config_runs_ruff_and_the_projects_mypy(bake: Bake) -> None:
    project = bake()
    run(BIN / "pre-commit", "validate-config", CONFIG, cwd=project)
    config = yaml.safe_load((project / CONFIG).read_text())
    hooks = hooks_by_id(config)

    ruff_repo, ruff_check = hooks["ruff-check"]
    assert ruff_repo == "https://github.com/astral-sh/ruff-pre-commit"
    assert "--fix" in ruff_check["args"]
    assert hooks["ruff-format"][0] == ruff_repo
    assert {"check-yaml", "end-of-file-fixer", "trailing-whitespace"} <= hooks.keys()

    mypy_repo, mypy = hooks["mypy"]
    assert mypy_repo == "local"
    assert mypy["language"] == "system"
    assert mypy["entry"] == ".venv/bin/mypy"

    # The pinned ruff is one the project's own dev extra accepts, and
    # pre-commit is installed with the other dev tools.
    dev = tomllib.loads((project / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]["dev"]
    ruff_range = next(r.removeprefix("ruff") for r in dev if r.startswith("ruff"))
    rev = next(r["rev"] for r in config["repos"] if r["repo"] == ruff_repo)
    assert rev.removeprefix("v") in SpecifierSet(ruff_range)
    assert any(r.startswith("pre-commit") for r in dev)


def test_uv_sync_installs_the_dev_tools_and_the_mypy_hook_passes(
    bake: Bake, tmp_path: Path
) -> None:
    project = bake()
    assert not (project / "uv.lock").exists(), "the lock is the user's, made on first sync"

    # uv's cache normally has everything; a universal lock may still want a
    # wheel it lacks, and then the index is reachable.
    offline = subprocess.run(
        [BIN / "uv", "sync", "--offline", "--quiet"], cwd=project, capture_output=True
    )
    if offline.returncode != 0:
        run(BIN / "uv", "sync", "--quiet", cwd=project)

    python = project / ".venv" / "bin" / "python"
    run(python, "-c", "import celery, sqlalchemy, pytest, mypy, flower", cwd=project)
    assert (project / ".venv" / "bin" / "pre-commit").exists()
    assert (project / "uv.lock").exists()

    # pre-commit clones every remote repo in a config before running any hook,
    # so the mypy hook runs from a copy of the config with only the local repo.
    config = yaml.safe_load((project / CONFIG).read_text())
    config["repos"] = [repo for repo in config["repos"] if repo["repo"] == "local"]
    local_only = tmp_path / "local-only.yaml"
    local_only.write_text(yaml.safe_dump(config))
    git_init(project)
    run("git", "add", "-A", cwd=project)
    result = run(
        project / ".venv" / "bin" / "pre-commit",
        "run",
        "--config",
        local_only,
        "mypy",
        "--all-files",
        cwd=project,
    )
    assert "mypy" in result.stdout
    assert "Passed" in result.stdout


def test_pip_editable_install_gives_the_same_tools(bake: Bake) -> None:
    project = bake()
    run(sys.executable, "-m", "venv", "venv", cwd=project)
    run(
        project / "venv" / "bin" / "pip",
        "install",
        "--quiet",
        "-e",
        ".[dev]",
        cwd=project,
        timeout=900,
    )
    run(
        project / "venv" / "bin" / "python",
        "-c",
        "import celery, sqlalchemy, pytest, mypy",
        cwd=project,
    )
    assert (project / "venv" / "bin" / "pre-commit").exists()


def copy_template(destination: Path) -> Path:
    """The template as a git repository of its own, as cruft needs."""
    shutil.copytree(
        TEMPLATE,
        destination,
        ignore=shutil.ignore_patterns(".git", ".venv", ".demo", ".bench", "__pycache__", "*_cache"),
    )
    git_init(destination)
    commit_all(destination, "template")
    return destination


def test_cruft_update_brings_template_changes_into_a_baked_project(tmp_path: Path) -> None:
    template = copy_template(tmp_path / "template")
    out = tmp_path / "out"
    out.mkdir()
    cruft = BIN / "cruft"
    run(cruft, "create", "--no-input", "--output-dir", out, template, cwd=tmp_path)
    project = out / "my-service"
    first = json.loads((project / ".cruft.json").read_text())
    assert first["template"] == str(template)
    secrets_before = (project / ".env").read_text()
    git_init(project)
    commit_all(project, "baked")
    run(cruft, "check", cwd=project)

    # A later template change: a line in a generated file and a new file.
    readme = template / "{{cookiecutter.project_slug}}" / "README.md"
    readme.write_text(readme.read_text() + "\nA line added by a later template.\n")
    (template / "{{cookiecutter.project_slug}}" / "CHANGELOG.md").write_text("# Changes\n")
    new_commit = commit_all(template, "template: a README line and a changelog")

    outdated = subprocess.run([cruft, "check"], cwd=project, capture_output=True, text=True)
    assert outdated.returncode != 0, "cruft check must see the newer template"

    run(
        cruft,
        "update",
        "--skip-apply-ask",
        "--allow-untracked-files",
        cwd=project,
    )

    assert (project / "README.md").read_text().endswith("A line added by a later template.\n")
    assert (project / "CHANGELOG.md").read_text() == "# Changes\n"
    assert json.loads((project / ".cruft.json").read_text())["commit"] == new_commit
    assert list(project.rglob("*.rej")) == []
    assert list(project.rglob("*.orig")) == []
    # .env is the project's own (skipped via [tool.cruft]): not re-keyed, not conflicted.
    assert (project / ".env").read_text() == secrets_before
    run(cruft, "check", cwd=project)

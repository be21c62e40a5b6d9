"""The project as its previous or its next version: the same code, another script directory.

Each is a folder with a copy of ``alembic.ini`` and ``migrations/``, the newest
revision taken away or one more added, where ``prestart`` runs as it runs from
the project's root. The service's code, ``migrations/env.py`` included, is
this version's: what differs between versions here is which revisions they know.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory

from .environment import PROJECT_ROOT
from .waiting import TIMEOUT

PRESTART = "{{ cookiecutter.package_name }}.prestart"

NEXT_REVISION = '''"""The next version's revision, written by a test.

Revision ID: {revision}
Revises: {down_revision}
"""

import sqlalchemy as sa
from alembic import op

revision = "{revision}"
down_revision = "{down_revision}"


def upgrade() -> None:
    {upgrade}


def downgrade() -> None:
    {downgrade}
'''


def script_directory(root: Path = PROJECT_ROOT) -> ScriptDirectory:
    return ScriptDirectory.from_config(Config(root / "alembic.ini"))


def head(root: Path = PROJECT_ROOT) -> str:
    revision = script_directory(root).get_current_head()
    assert revision is not None, "the project has no revision"
    return revision


def copy_of_the_project(folder: Path) -> Path:
    shutil.copy(PROJECT_ROOT / "alembic.ini", folder)
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(PROJECT_ROOT / "migrations", folder / "migrations", ignore=ignore)
    return folder


def previous_version(folder: Path) -> Path:
    """This version but for its newest revision, as the version before it was."""
    root = copy_of_the_project(folder)
    newest = script_directory(root).get_revision(head(root))
    Path(newest.path).unlink()
    return root


def next_version(folder: Path, upgrade: str, downgrade: str = "pass") -> Path:
    """This version and one revision more, whose upgrade runs ``upgrade``."""
    root = copy_of_the_project(folder)
    down_revision = head(root)
    revision = f"{int(down_revision) + 1:04d}"
    text = NEXT_REVISION.format(
        revision=revision, down_revision=down_revision, upgrade=upgrade, downgrade=downgrade
    )
    (root / "migrations" / "versions" / f"{revision}_next_version.py").write_text(text)
    return root


def prestart(
    root: Path, *args: str, env: dict[str, str] | None = None, timeout: float = TIMEOUT
) -> subprocess.CompletedProcess[str]:
    """``python -m <package>.prestart`` run from ``root``, as that version runs it."""
    return subprocess.run(
        [sys.executable, "-m", PRESTART, *args],
        cwd=root,
        env=None if env is None else {**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def waiting_for_migrations(root: Path, seconds: float) -> subprocess.Popen[str]:
    """``prestart --wait-for-migrations``, as a deploy runs it before each app process."""
    return subprocess.Popen(
        [sys.executable, "-m", PRESTART, "--wait-for-migrations", str(seconds)],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )

"""promtool, Prometheus's checker of rule files, run as a user runs it.

Debian's and Ubuntu's ``prometheus`` package ships it, as does every Prometheus
release. Missing, it fails the run under CI and skips the tests elsewhere.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

__all__ = ["promtool"]


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    found = shutil.which("promtool")
    if found is None:
        message = "promtool is not installed (the prometheus package ships it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return subprocess.run(
        [found, *map(str, args)], capture_output=True, text=True, check=False, timeout=60
    )

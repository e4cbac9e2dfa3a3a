"""dciodvfy (Debian's dicom3tools), the validator the tests hold instances to."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


def dciodvfy_errors(path: Path) -> list[str]:
    """dciodvfy's errors for the instance at ``path`` (warnings are kept out); fails the test when the tool
    is missing."""
    tool = shutil.which("dciodvfy")
    if tool is None:
        pytest.fail(
            "dciodvfy is missing: apt-get install dicom3tools (scripts/setup.sh does it)", pytrace=False
        )
    done = subprocess.run([tool, str(path)], capture_output=True, text=True, check=False)
    return [line for line in (done.stdout + done.stderr).splitlines() if line.startswith("Error")]

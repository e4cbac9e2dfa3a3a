"""docs/ builds with Sphinx, every warning an error, and says what the code says."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_docs_build_without_a_warning(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "--keep-going",
            "-q",
            "-b",
            "html",
            str(ROOT / "docs"),
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "WARNING" not in done.stderr
    operators = (tmp_path / "operators.html").read_text()
    for name in ("DicomWebStoreOperator", "DicomWebDeleteOperator", "skip_existing"):
        assert name in operators
    assert "regional_access_boundary" in (tmp_path / "connection.html").read_text()

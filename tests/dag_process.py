"""Run a DAG file's ``__main__`` (a ``dag.test()``) in a process of its own, as its only DAG bundle: for what
Airflow decides at import (the OpenLineage provider) or does only in a real run (extra links stored)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_dag_script(folder: Path, script: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Write ``script`` to ``folder/dags/probe.py`` and run it with ``env`` added to this process's."""
    (folder / "dags").mkdir(exist_ok=True)
    (folder / "dags" / "probe.py").write_text(script)
    return subprocess.run(
        [sys.executable, str(folder / "dags" / "probe.py")],
        env={
            **os.environ,
            "AIRFLOW__CORE__DAGS_FOLDER": str(folder / "dags"),
            **env,
        },  # dag.test() runs DAGs of the bundle
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

"""The DICOMweb core imports nothing from Airflow: it can be tested and reused alone."""

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import airflow_dicomweb.core

ROOT = Path(__file__).resolve().parents[2]


def test_the_core_loads_no_airflow_module():
    modules = [
        f"airflow_dicomweb.core.{m.name}" for m in pkgutil.iter_modules(airflow_dicomweb.core.__path__)
    ]
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m == 'airflow' or m.startswith('airflow.'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert len(modules) > 20
    assert json.loads(out.stdout) == []

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
        m.name for m in pkgutil.walk_packages(airflow_dicomweb.core.__path__, prefix="airflow_dicomweb.core.")
    ]
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m == 'airflow' or m.startswith('airflow.'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert len(modules) > 40  # every module of every package of the core
    assert json.loads(out.stdout) == []


def test_no_folder_of_the_core_holds_more_than_15_modules():
    core = Path(airflow_dicomweb.core.__file__).parent
    for folder in [core, *(p for p in core.rglob("*") if p.is_dir() and p.name != "__pycache__")]:
        modules = [p for p in folder.glob("*.py") if p.name != "__init__.py"]
        assert len(modules) <= 15, (folder, len(modules))

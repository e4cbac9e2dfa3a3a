"""Packaged like Airflow's own providers: one version everywhere, typed, classified, registered."""

import importlib.metadata
import re
from pathlib import Path

import airflow_dicomweb
from airflow_dicomweb.get_provider_info import get_provider_info

ROOT = Path(__file__).resolve().parents[2]


def test_one_version_everywhere():
    assert importlib.metadata.version("airflow-dicomweb") == airflow_dicomweb.__version__
    assert get_provider_info()["versions"] == [airflow_dicomweb.__version__]
    assert f"## {airflow_dicomweb.__version__}" in (ROOT / "CHANGELOG.md").read_text()


def test_typed_and_classified_as_an_airflow_provider():
    assert (Path(airflow_dicomweb.__file__).parent / "py.typed").exists()
    meta = importlib.metadata.metadata("airflow-dicomweb")
    classifiers = meta.get_all("Classifier") or []
    assert "Framework :: Apache Airflow :: Provider" in classifiers and "Typing :: Typed" in classifiers
    assert any(r.startswith("apache-airflow>=3.2.0") for r in meta.get_all("Requires-Dist") or [])
    entry_points = importlib.metadata.entry_points(group="apache_airflow_provider")
    assert any(ep.value == "airflow_dicomweb.get_provider_info:get_provider_info" for ep in entry_points)


def test_nothing_reads_outside_the_clone():
    """A user's clone has nothing beside it: no file of the project may reach for a sibling folder."""
    import subprocess

    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    sibling = re.compile(r"""\.\./shared|parent\s*/\s*["']shared["']""")
    offenders = []
    for name in tracked:
        path = ROOT / name
        if path.suffix not in {
            ".py",
            ".sh",
            ".toml",
            ".cfg",
            ".yaml",
            ".yml",
            ".txt",
            ".env",
            ".md",
            ".rst",
            "",
        }:
            continue
        try:
            text = path.read_text()
        except (UnicodeDecodeError, IsADirectoryError, FileNotFoundError):
            continue
        offenders += [f"{name}: {m.group(0)}" for m in sibling.finditer(text)]
    assert not offenders, offenders

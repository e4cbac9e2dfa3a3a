"""Packaged like Airflow's own providers: one version everywhere, typed, classified, registered."""

import importlib.metadata
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

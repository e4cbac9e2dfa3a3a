"""docker-compose.yaml cannot be run here (no Docker engine): it is checked against the Compose
specification's JSON schema, and for the services, connection and mounts the README describes."""

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT.parent / "shared" / "compose-spec.json"
AIRFLOW_SERVICES = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-worker": "celery worker",
    "airflow-triggerer": "triggerer",
}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yaml").read_text())


def test_valid_against_the_compose_specification(compose):
    if not SCHEMA.exists():
        pytest.fail(f"the Compose specification schema is expected at {SCHEMA} (shared/ beside the clone)")
    # The schema declares draft-07 (its $schema URL lacks the '#', so name the draft explicitly).
    jsonschema.Draft7Validator(json.loads(SCHEMA.read_text())).validate(compose)


def test_the_stack_has_every_service_of_airflows_own_compose_plus_orthanc(compose):
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "orthanc", "airflow-init", *AIRFLOW_SERVICES}
    for name, command in AIRFLOW_SERVICES.items():
        assert services[name]["command"] == command
        assert services[name]["build"] == "."  # the provider, installed from this repository
        assert services[name]["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert services["airflow-init"]["environment"]["_AIRFLOW_DB_MIGRATE"] == "true"
    assert services["orthanc"]["environment"]["DICOM_WEB_PLUGIN_ENABLED"] == "true"
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "FROM apache/airflow:3.3.2" in dockerfile and "pip install" in dockerfile


def test_the_connection_points_at_the_stacks_orthanc_and_the_dags_are_mounted(compose):
    env = compose["services"]["airflow-worker"]["environment"]
    conn = json.loads(
        env["AIRFLOW_CONN_DICOMWEB_DEFAULT"].replace("${ORTHANC_PASSWORD:-orthanc-change-me}", "x")
    )
    assert conn["conn_type"] == "dicomweb"
    assert conn["host"] == "http://orthanc:8042/dicom-web"
    assert conn["login"] == "airflow" and conn["extra"]["caret_as_wildcard"] is True
    users = compose["services"]["orthanc"]["environment"]["ORTHANC__REGISTERED_USERS"]
    assert json.loads(users.replace("${ORTHANC_PASSWORD:-orthanc-change-me}", "x")) == {"airflow": "x"}
    for name in AIRFLOW_SERVICES:
        assert "./dags:/opt/airflow/dags" in compose["services"][name]["volumes"]
        assert "./data:/opt/airflow/data" in compose["services"][name]["volumes"]
    assert env["DICOMWEB_DATA_DIR"] == "/opt/airflow/data"
    readme = (ROOT / "README.md").read_text()
    assert "docker compose up --build" in readme and "http://orthanc:8042/dicom-web" in readme

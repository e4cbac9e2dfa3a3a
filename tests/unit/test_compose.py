"""docker-compose.yaml cannot be run here (no Docker engine): it is checked against the Compose
specification's JSON schema and for what the deployment promises. Its environment is deploy/airflow.env,
which the system test (tests/system/) runs for real.

The schema is a copy of ``schema/compose-spec.json`` from the Compose Specification
(https://github.com/compose-spec/compose-spec), as published in late 2026 (with ``models`` and service
``provider``), kept in tests/data/ so that a clone needs nothing beside it. Its SHA-256 is checked, so that
replacing it is a deliberate change."""

import hashlib
import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.system.stack import AIRFLOW_SERVICES as LOCAL_SERVICES
from tests.system.stack import read_env_file

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "tests" / "data" / "compose-spec.json"
SCHEMA_SHA256 = "1f91e091f16b2dd50ab8860e02bb391d22df553d91c145eacedb1b6eff9c3f0e"
AIRFLOW_SERVICES = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-worker": "celery worker",
    "airflow-triggerer": "triggerer",
}
ENV_FILE = "deploy/airflow.env"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yaml").read_text())


def test_valid_against_the_compose_specification(compose):
    assert hashlib.sha256(SCHEMA.read_bytes()).hexdigest() == SCHEMA_SHA256
    # The schema declares draft-07 (its $schema URL lacks the '#', so name the draft explicitly).
    jsonschema.Draft7Validator(json.loads(SCHEMA.read_text())).validate(compose)


def test_every_airflow_service_runs_on_the_one_shared_environment_file(compose):
    services = compose["services"]
    assert set(services) == {
        "postgres",
        "redis",
        "orthanc",
        "airflow-init",
        "dicomweb-gateway",
        *AIRFLOW_SERVICES,
    }
    for name, command in AIRFLOW_SERVICES.items():
        assert services[name]["command"] == command
        assert services[name]["build"] == "."
        assert services[name]["env_file"] == [ENV_FILE]
    assert services["airflow-init"]["env_file"] == [ENV_FILE]
    assert {c.split()[0] for c in AIRFLOW_SERVICES.values()} == {c[0] for c in LOCAL_SERVICES.values()}
    env = read_env_file(ROOT / ENV_FILE)
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CORE__AUTH_MANAGER"].endswith("FabAuthManager")  # as Airflow's own compose file


def test_secrets_are_generated_once_and_shared_never_written_down(compose):
    """The bug that failed every task: each service made up its own JWT secret. Now all read one file."""
    env = read_env_file(ROOT / ENV_FILE)
    for option in ("CORE__FERNET_KEY", "API_AUTH__JWT_SECRET", "API__SECRET_KEY"):
        assert f"AIRFLOW__{option}" not in env
        assert re.fullmatch(r"cat /opt/airflow/secrets/\w+", env[f"AIRFLOW__{option}_CMD"])
    text = (ROOT / "docker-compose.yaml").read_text() + (ROOT / ENV_FILE).read_text()
    assert "FERNET_KEY:" not in text and "change-me" not in text
    for name in AIRFLOW_SERVICES:
        assert "airflow-secrets:/opt/airflow/secrets:ro" in compose["services"][name]["volumes"]
    init = compose["services"]["airflow-init"]
    assert init["command"] == ["/opt/airflow/deploy/airflow-init.sh"]
    assert "airflow-secrets:/opt/airflow/secrets" in init["volumes"]
    assert "COPY --chown=airflow:root deploy /opt/airflow/deploy" in (ROOT / "Dockerfile").read_text()


def test_every_long_running_service_has_a_healthcheck_and_nothing_listens_beyond_localhost(compose):
    for name, service in compose["services"].items():
        if name != "airflow-init":
            assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"
    orthanc = compose["services"]["orthanc"]
    assert "orthanc-config:/etc/orthanc:ro" in orthanc["volumes"]
    assert orthanc["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"


def test_the_example_dags_and_data_are_mounted_and_the_readme_starts_it(compose):
    for name in AIRFLOW_SERVICES:
        assert "./dags:/opt/airflow/dags" in compose["services"][name]["volumes"]
        assert "./data:/opt/airflow/data" in compose["services"][name]["volumes"]
    assert read_env_file(ROOT / ENV_FILE)["DICOMWEB_DATA_DIR"] == "/opt/airflow/data"
    readme = (ROOT / "README.md").read_text()
    assert "docker compose up --build -d" in readme
    assert "cat /opt/airflow/secrets/admin_password" in readme


def test_the_gateway_runs_the_command_line_on_the_shared_environment(compose):
    """The system test runs this very command (tests/system/stack.py, gateway_command) as a local process."""
    from tests.system.stack import gateway_command

    gateway = compose["services"]["dicomweb-gateway"]
    assert gateway["env_file"] == [ENV_FILE] and gateway["entrypoint"] == ["/bin/bash", "-c"]
    assert "airflow-secrets:/opt/airflow/secrets:ro" in gateway["volumes"]
    assert (
        "receive --aet DICOMWEB-GW" in gateway["command"][0] and "DICOMWEB_PASSWORD=" in gateway["command"][0]
    )
    assert gateway_command().startswith('DICOMWEB_PASSWORD="$(cat ')  # compose's $$ read as one $

"""The hook as Airflow sees it: connection from the environment, errors, registration, delete on Orthanc."""

import json

import pytest
from pydicom.uid import generate_uid

from airflow_dicomweb.core.errors import DicomWebDeleteNotSupportedError, DicomWebHTTPError
from airflow_dicomweb.hooks.dicomweb import DicomWebHook
from tests.connections import connection_json
from tests.dicom_factory import make_series


def test_delete_on_orthanc_says_the_server_does_not_support_it(hook, tmp_path):
    study = generate_uid()
    make_series(tmp_path, 1, study_uid=study)
    assert hook.store_instances([tmp_path]).ok
    with pytest.raises(
        DicomWebDeleteNotSupportedError, match="does not support DICOMweb delete \\(HTTP 405\\)"
    ):
        hook.delete_study(study)
    assert hook.search_for_studies({"StudyInstanceUID": study})  # still there


def test_wrong_password_is_a_401_that_does_not_show_the_password(orthanc, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_DICOMWEB_BAD",
        connection_json(orthanc.dicomweb_url, login=orthanc.username, password="wrong-password-123"),
    )
    hook = DicomWebHook("dicomweb_bad")
    with pytest.raises(DicomWebHTTPError) as info:
        hook.search_for_studies()
    assert info.value.status == 401
    assert "wrong-password-123" not in str(info.value)
    ok, message = hook.test_connection()
    assert not ok and "401" in message and "wrong-password" not in message


def test_test_connection_succeeds_and_get_conn_shares_the_pool(hook):
    ok, message = hook.test_connection()
    assert ok, message
    client = hook.get_conn()
    assert client.transport is hook.transport and client.search_for_studies() == []


def test_constructing_a_hook_looks_nothing_up(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_NOWHERE", raising=False)
    hook = DicomWebHook("nowhere")  # no connection exists: only using it may fail
    assert hook.dicomweb_conn_id == "nowhere"


def test_provider_info_validates_and_every_class_path_imports():
    import importlib
    import importlib.resources

    import jsonschema

    from airflow_dicomweb.get_provider_info import get_provider_info

    info = get_provider_info()
    schema = json.loads(
        importlib.resources.files("airflow").joinpath("provider_info.schema.json").read_text()
    )
    jsonschema.validate(info, schema)
    assert info["package-name"] == "airflow-dicomweb"
    for conn in info["connection-types"]:
        module, _, cls = conn["hook-class-name"].rpartition(".")
        hook_class = getattr(importlib.import_module(module), cls)
        assert hook_class.conn_type == conn["connection-type"]
        assert hook_class.hook_name == conn["hook-name"]
    for section in ("hooks", "operators", "sensors", "triggers"):
        for entry in info.get(section, []):
            for module in entry["python-modules"]:
                importlib.import_module(module)


def test_airflow_discovers_the_provider_and_its_connection_form():
    from airflow.providers_manager import ProvidersManager
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    manager = ProvidersManager()
    assert "airflow-dicomweb" in manager.providers
    hooks = ProvidersManagerTaskRuntime().hooks
    assert hooks["dicomweb"].hook_class_name == "airflow_dicomweb.hooks.dicomweb.DicomWebHook"
    assert "extra__dicomweb__auth_type" in manager.connection_form_widgets
    assert manager.connection_form_widgets["extra__dicomweb__keyfile_dict"].is_sensitive
    assert "schema" in manager.field_behaviours["dicomweb"]["hidden_fields"]


def test_airflow_providers_list_shows_the_package():
    import os
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "airflow", "providers", "list", "--output", "json"],
        capture_output=True,
        text=True,
        check=True,
        env=os.environ,
    )
    listed = {p["package_name"]: p for p in json.loads(out.stdout[out.stdout.index("[{") :])}
    assert "airflow-dicomweb" in listed
    from airflow_dicomweb import __version__

    assert listed["airflow-dicomweb"]["version"] == __version__

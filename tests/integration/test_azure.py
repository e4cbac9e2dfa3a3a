"""``auth_type: azure`` through azure-identity itself, end to end: DefaultAzureCredential finds App Service's
managed identity on loopback (tests/emulators/azure_emulator.py), tokens for the DICOM audience reach the service and
nowhere else, a revoked token is renewed once on a 401, and no token reaches a log or an error."""

from __future__ import annotations

import logging
import sys

import pytest
from pydicom.uid import generate_uid

from airflow_dicomweb.core.client import DicomWebClient
from airflow_dicomweb.core.errors import DicomWebAuthError, DicomWebConfigError, DicomWebHTTPError
from tests.connections import FAST_RETRY_EXTRAS
from tests.dicom_factory import make_series
from tests.emulators.azure_emulator import AUDIENCE, AzureEmulator


@pytest.fixture
def azure(clean_orthanc, monkeypatch):
    for name in (
        "AZURE_CLIENT_ID",
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_SECRET",
        "AZURE_FEDERATED_TOKEN_FILE",
        "MSI_ENDPOINT",
    ):
        monkeypatch.delenv(name, raising=False)
    with AzureEmulator(clean_orthanc) as emulator:
        for name, value in emulator.environment.items():
            monkeypatch.setenv(name, value)
        yield emulator


def client_for(azure: AzureEmulator, **extra) -> DicomWebClient:
    """A client of the emulator; ``server: azure`` unless told otherwise (its loopback URL is no Azure host)."""
    return DicomWebClient.from_url(
        azure.dicom.dicomweb_url, auth_type="azure", **FAST_RETRY_EXTRAS, **{"server": "azure", **extra}
    )


def test_store_search_and_retrieve_with_a_managed_identity_token(azure, tmp_path):
    study = generate_uid()
    files = make_series(tmp_path / "in", 3, study_uid=study, rows=16, columns=16)
    with client_for(azure) as client:
        assert len(client.store_instances(files).stored) == 3
        assert [
            s["0020000D"]["Value"][0] for s in client.search_for_studies({"StudyInstanceUID": study})
        ] == [study]
        paths = client.retrieve_study(study, tmp_path / "out")
    assert sorted(p.read_bytes() for p in paths) == sorted(f.read_bytes() for f in files)
    assert azure.token_requests and all(q["resource"] == AUDIENCE for q in azure.token_requests)
    assert len(azure.token_requests) == 1  # one token, cached by azure-identity across requests
    assert all(a.startswith("Bearer eyJ0eXAiOiJKV1Qi.") for a in azure.authorizations)


def test_a_revoked_token_is_renewed_once_on_a_401_and_never_shown(azure, caplog):
    caplog.set_level(logging.DEBUG)
    with client_for(azure) as client:
        client.search_for_studies()
        azure.revoke_all()
        client.search_for_studies()  # 401, a new token, the same request again: it succeeds
        assert len(azure.token_requests) == 2
        azure.revoke_all()
        azure.identity.handler = lambda request: (500, {}, b"identity endpoint down")
        with pytest.raises(DicomWebAuthError, match="could not obtain an Entra ID token") as raised:
            client.search_for_studies()
    for token in azure.tokens:
        assert token not in caplog.text and token not in str(raised.value)


def test_a_service_principal_needs_its_secret_and_tenant():
    with pytest.raises(
        DicomWebConfigError, match="needs the client secret as the password and the extra tenant_id"
    ):
        DicomWebClient.from_url(
            "https://ws-dicom.dicom.azurehealthcareapis.com/v2", auth_type="azure", login="app"
        )


def test_without_azure_identity_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "azure.identity", None)  # as if the extra were not installed
    with pytest.raises(
        DicomWebConfigError, match=r"needs azure-identity: pip install 'airflow-dicomweb\[azure\]'"
    ):
        DicomWebClient.from_url("https://ws-dicom.dicom.azurehealthcareapis.com/v2", auth_type="azure")


def test_the_azure_profile_pages_within_its_limit_of_200(azure, tmp_path):
    study = generate_uid()
    files = make_series(tmp_path, 230, study_uid=study, rows=4, columns=4)
    with client_for(azure) as client:
        assert len(client.store_instances(files).stored) == 230
        asked = len(azure.authorizations)
        assert len(client.search_for_instances(study)) == 230
        assert len(azure.authorizations) - asked == 2  # 200, then 30: no request past the last page
    with (
        client_for(azure, server="generic") as generic,
        pytest.raises(DicomWebHTTPError, match="between 1 and 200"),
    ):
        generic.search_for_instances(study)  # asks for 50,000 a page, which Azure refuses
    assert (
        DicomWebClient.from_url(
            "https://ws-dicom.dicom.azurehealthcareapis.com/v2", auth_type="azure"
        ).transport.settings.profile.name
        == "azure"
    )  # told from the host

"""The core's seams: auth types and server profiles found by name, one file each; the facade's methods are
the transactions' own."""

import dataclasses
import inspect
import json
from pathlib import Path

import pytest

from airflow_dicomweb.core import auth, servers
from airflow_dicomweb.core import settings as settings_module
from airflow_dicomweb.core.client import DicomWebApi, DicomWebClient
from airflow_dicomweb.core.errors import DicomWebConfigError
from airflow_dicomweb.core.google_store.client import GoogleStoreApi
from airflow_dicomweb.core.settings import DicomWebSettings
from airflow_dicomweb.core.transactions import Transactions
from airflow_dicomweb.get_provider_info import get_provider_info

GOOGLE_ROOT = "https://healthcare.googleapis.com/v1/projects/p/locations/l/datasets/d/dicomStores/s/dicomWeb"


def settings(host: str, **extra) -> DicomWebSettings:
    return DicomWebSettings.from_connection_fields(host=host, extra=extra)


def test_every_auth_type_and_server_is_a_module_of_its_package():
    assert auth.names() == ["aws", "azure", "basic", "bearer", "google", "none"]
    assert servers.names() == [
        "azure",
        "dcm4chee",
        "generic",
        "google",
        "healthimaging",
        "orthanc",
        "static-wado",
        "tiny-pacs",
    ]
    for name in auth.names():
        assert auth.auth_type(name).name == name
    for name in servers.names():
        assert servers.profile(name).name == name


def test_auto_tells_google_from_its_url_and_takes_generic_otherwise():
    assert settings(GOOGLE_ROOT).profile.name == "google"
    assert settings("http://127.0.0.1:8042/dicom-web").profile.name == "generic"
    private = GOOGLE_ROOT.replace("https://healthcare.googleapis.com", "http://127.0.0.1:9000")
    assert settings(private).profile.name == "google"  # a private endpoint or an emulator


def test_a_profile_gives_defaults_that_the_connection_may_override():
    orthanc = settings("http://127.0.0.1:8042/dicom-web", server="orthanc")
    assert (orthanc.delete_api, orthanc.caret_as_wildcard) == ("orthanc", True)
    told = settings(
        "http://127.0.0.1:8042/dicom-web", server="orthanc", delete_api="dicomweb", caret_as_wildcard=False
    )
    assert (told.delete_api, told.caret_as_wildcard) == ("dicomweb", False)
    generic = settings("http://127.0.0.1:8042/dicom-web", delete_api="auto")
    assert (generic.delete_api, generic.caret_as_wildcard) == ("dicomweb", False)


def test_unknown_names_are_refused_with_the_choices():
    with pytest.raises(
        DicomWebConfigError,
        match=r"unknown server 'dcm4che'.*azure, dcm4chee, generic, google, healthimaging, orthanc, static-wado, tiny-pacs",
    ):
        settings("http://127.0.0.1/dicom-web", server="dcm4che")
    with pytest.raises(
        DicomWebConfigError, match=r"unknown auth_type .kerberos.*aws, azure, basic, bearer, google, none"
    ):
        settings("http://127.0.0.1/dicom-web", auth_type="kerberos")


def test_the_facade_methods_are_plain_defs_with_the_transactions_signatures():
    fields = {f.name: f.type for f in dataclasses.fields(Transactions)}
    public = [n for n in vars(DicomWebApi) if not n.startswith("_") and n != "transactions"]
    assert len(public) == 21
    for name in public:
        method = getattr(DicomWebApi, name)
        assert inspect.isfunction(method) and not hasattr(method, "__wrapped__"), name
        source = inspect.getsource(method)
        owner_name = next(f for f in fields if f"self.transactions.{f}.{name}(" in source)
        owner = getattr(
            type(getattr(DicomWebClient.from_url("http://127.0.0.1:1/x").transactions, owner_name)), name
        )
        assert inspect.signature(method) == inspect.signature(owner), name
        assert method.__doc__ and method.__doc__.split()[0] == owner.__doc__.split()[0], name


def test_the_dicomweb_hook_has_only_what_every_server_does_and_the_google_store_hook_adds_its_own():
    from airflow_dicomweb.hooks.dicomweb import DicomWebHook
    from airflow_dicomweb.hooks.google_store import GoogleDicomStoreHook

    google_only = {n for n in vars(GoogleStoreApi) if not n.startswith("_") and n != "google_store"}
    assert google_only == {
        "import_dicom",
        "export_dicom",
        "deidentify_store",
        "set_storage_class",
        "store_metrics",
        "study_metrics",
        "series_metrics",
    }
    assert not any(hasattr(DicomWebHook, n) for n in google_only)
    assert all(callable(getattr(GoogleDicomStoreHook, n)) for n in google_only)
    assert GoogleDicomStoreHook.conn_type == DicomWebHook.conn_type


def test_each_transaction_receives_what_it_uses():
    client = DicomWebClient.from_url("http://127.0.0.1:1/dicom-web", server="orthanc")
    t = client.transactions
    assert t.search.transport is t.store.transport is t.instances.transport is client.transport
    assert t.store.search is t.search and t.instances.search is t.search
    assert t.search.profile is t.store.profile is client.transport.settings.profile
    assert t.bulkdata.metadata is t.metadata


def test_an_auth_type_is_one_file_the_settings_name_none():
    source = (Path(settings_module.__file__)).read_text().lower()
    for name in auth.names():
        if name != "none":
            assert name not in source, f"settings.py names auth type {name!r}"
    # every extra an auth type declares is on the form, once
    form = get_provider_info()["connection-types"][0]["conn-fields"]
    for name in auth.names():
        for declared in auth.auth_type(name).fields:
            assert form[declared.name] == declared.form()


def test_an_auth_types_extras_reach_it_and_its_secrets_are_redacted_whichever_is_used():
    key = json.dumps(
        {"private_key": "-----BEGIN PRIVATE KEY-----\nsecret-body-1234", "private_key_id": "kid-5678"}
    )
    azure = settings("https://h/dicom-web", auth_type="azure", tenant_id="t-1", keyfile_dict=key)
    assert dict(azure.auth_fields) == {"tenant_id": "t-1"}
    assert azure.redactor().redact("kid-5678 secret-body-1234") == "<redacted> <redacted>"
    named = settings(None, project="p", location="l", dataset="d", dicom_store="s", auth_type="google")
    assert named.base_url == GOOGLE_ROOT


def test_arrival_sources_are_modules_of_one_package_and_auto_is_the_profiles():
    from airflow_dicomweb.core import arrivals
    from airflow_dicomweb.core.arrivals.change_feed import ChangeFeedSource
    from airflow_dicomweb.core.arrivals.orthanc_changes import OrthancChangesSource
    from airflow_dicomweb.core.arrivals.search import SearchSource

    assert arrivals.names() == [
        "aws-eventbridge",
        "azure-event-grid",
        "change-feed",
        "google-pubsub",
        "landing",
        "orthanc-changes",
        "search",
    ]
    orthanc = DicomWebClient.from_url("http://127.0.0.1:1/dicom-web", server="orthanc")
    azure = DicomWebClient.from_url("https://ws-svc.dicom.azurehealthcareapis.com/v2", server="azure")
    plain = DicomWebClient.from_url("http://127.0.0.1:1/dicom-web")
    assert type(arrivals.source_for("auto", orthanc)) is OrthancChangesSource
    assert type(arrivals.source_for("auto", plain)) is SearchSource
    assert type(arrivals.source_for("auto", azure)) is ChangeFeedSource
    assert type(arrivals.source_for("search", azure)) is SearchSource
    with pytest.raises(DicomWebConfigError, match="unknown arrival source 'pubsub'"):
        arrivals.source_for("pubsub", orthanc)

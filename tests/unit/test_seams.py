"""The core's seams: auth types and server profiles found by name, one file each; the facade's methods are
the transactions' own; the old module paths still import."""

import importlib
import inspect

import pytest

from airflow_dicomweb.core import auth, servers
from airflow_dicomweb.core.client import DicomWebApi, DicomWebClient, Transactions
from airflow_dicomweb.core.errors import DicomWebConfigError
from airflow_dicomweb.core.settings import DicomWebSettings

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


def test_the_facade_methods_are_the_transactions_own():
    fields = {f.name: f.type for f in Transactions.__dataclass_fields__.values()}
    public = [n for n in vars(DicomWebApi) if not n.startswith("_") and n != "transactions"]
    # the 21 methods the mixins gave the client and the hook, and the 7 of a Google store
    assert len(public) == 28
    for name in public:
        method = getattr(DicomWebApi, name)
        owner = method.__wrapped__
        assert owner.__name__ == name
        assert inspect.signature(method) == inspect.signature(owner)
        assert owner.__qualname__.split(".")[0] in fields.values()
        assert method.__doc__ == owner.__doc__


def test_each_transaction_receives_what_it_uses():
    client = DicomWebClient.from_url("http://127.0.0.1:1/dicom-web", server="orthanc")
    t = client.transactions
    assert t.search.transport is t.store.transport is t.instances.transport is client.transport
    assert t.store.search is t.search and t.instances.search is t.search
    assert t.search.profile is t.store.profile is client.transport.settings.profile
    assert t.bulkdata.metadata is t.metadata


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("transport", "http.transport"),
        ("multipart_reader", "multipart.reader"),
        ("store_result", "stow.result"),
        ("google_credentials", "auth.google"),
        ("instance_files", "storage.instance_writer"),
        ("study_arrivals", "qido.study_arrivals"),
    ],
)
def test_the_old_module_paths_still_import(old, new):
    assert importlib.import_module(f"airflow_dicomweb.core.{old}") is importlib.import_module(
        f"airflow_dicomweb.core.{new}"
    )
    from airflow_dicomweb.core.operations import operation_state  # the old operations module's names
    from airflow_dicomweb.core.storage import Location  # the old storage module's
    from airflow_dicomweb.core.wado import normalize_tag_path  # the old wado module's

    assert callable(operation_state) and callable(normalize_tag_path) and Location

"""The URL policy: one parser (urllib3's), and an error that says what differed."""

import pytest

from airflow_dicomweb.core.errors import DicomWebUnsafeUrlError
from airflow_dicomweb.core.http.url_policy import UrlPolicy, operation_path

POLICY = UrlPolicy("https://pacs.example:8443/dicom-web")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://pacs.example:8443/dicom-web/x", "scheme http is a downgrade from the service's https"),
        (
            "https://other.example:8443/dicom-web/x",
            "host other.example is not the service's host pacs.example",
        ),
        ("https://pacs.example/dicom-web/x", "port 443 is not the service's port 8443"),
        ("https://evil:1\\@pacs.example:8443/x", "contains a backslash"),
        ("https://u:p@pacs.example:8443/x", "carries user information"),
        ("https://pacs.example:8443\t/x", "space or control character"),
        ("ftp://pacs.example:8443/x", "not an http(s) URL"),
        ("https://pacs%2eexample:8443/x", "read differently by URL parsers"),
    ],
)
def test_what_differed_is_named(url, message):
    with pytest.raises(DicomWebUnsafeUrlError, match="refused") as caught:
        POLICY.check(url, "a link")
    assert message in str(caught.value)


def test_the_service_origin_passes_in_any_spelling():
    for url in (
        "https://pacs.example:8443/dicom-web/x",
        "HTTPS://PACS.example:8443/y",
        "https://pacs.example:08443/",
    ):
        assert POLICY.check(url, "a link") == url


def test_a_configured_second_root_is_allowed():
    policy = UrlPolicy("https://pacs.example/dicom-web", ["https://ops.example/v1"])
    assert policy.is_allowed("https://ops.example/v1/operations/1")
    assert not policy.is_allowed("https://ops.example:444/v1/operations/1")


@pytest.mark.parametrize(
    "name", ["../x", "a/../../b", "a/./b", "a/%2e%2e/b", "a/b?c=d", "a/b#c", "a\\b", "a b", ""]
)
def test_operation_names_cannot_climb_or_carry_a_query(name):
    with pytest.raises(DicomWebUnsafeUrlError):
        operation_path(name)


def test_real_operation_names_pass():
    name = "projects/example.com:proj-1/locations/us-central1/datasets/ds_1.a/operations/123456"
    assert operation_path("/" + name) == name

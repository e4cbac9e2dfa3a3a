"""No link a server hands back takes the client's credentials to another host.

``http://OTHER\\@SERVICE/...`` is the service to ``urllib.parse`` and the other host to urllib3, which makes
the connection; ``http://user@...`` and dot segments are the other classic tricks. Each case runs against a
real "other host" on loopback that records every request: it must receive nothing.
"""

import json

import pytest

from airflow_dicomweb.core.client import DicomWebClient
from airflow_dicomweb.core.errors import DicomWebUnsafeUrlError
from tests.fakes.fake_server import FakeServer

SECRET = "pa55-never-elsewhere"
FAST = {"max_retries": 1, "retry_initial_wait": 0.01, "retry_max_wait": 0.02}
STUDY, SERIES, SOP = "1.2.3", "1.2.3.4", "1.2.3.4.5"


@pytest.fixture
def other():
    """The host a hostile server would like the credentials to reach; it answers like a willing accomplice."""
    done = json.dumps({"name": "x", "done": True, "response": {}}).encode()
    with FakeServer(lambda r: (200, {"Content-Type": "application/json"}, done)) as server:
        yield server


def tricks(other: FakeServer, service: FakeServer, path: str) -> dict[str, str]:
    o, s = other.url.removeprefix("http://"), service.url.removeprefix("http://")
    return {
        "backslash": f"http://{o}\\@{s}{path}",
        "userinfo": f"http://{s}@{o}{path}",
        "userinfo-on-service": f"http://user:pw@{s}{path}",
        "other-host": f"http://{o}{path}",
        "tab-in-host": f"http://{o}\t@{s}{path}",
    }


def client_for(service: FakeServer) -> DicomWebClient:
    return DicomWebClient.from_url(f"{service.url}/dicom-web", login="user", password=SECRET, **FAST)


@pytest.mark.parametrize("trick", ["backslash", "userinfo", "userinfo-on-service", "tab-in-host"])
def test_a_bulkdata_uri_never_leads_elsewhere(other, trick):
    with FakeServer(lambda r: (404, {}, b"")) as service:
        uri = tricks(other, service, "/dicom-web/studies/1/bulk/7fe00010")[trick]
        with pytest.raises(DicomWebUnsafeUrlError, match="refused"):
            client_for(service).retrieve_bulkdata(uri)
        assert service.requests == []
    assert other.requests == []


def test_a_bulkdata_uri_on_another_host_goes_to_the_service_or_nowhere(other):
    """A server behind a proxy may name its internal host: a path under the service root is fetched from
    the service itself; any other path is refused. The other host gets nothing either way."""
    with FakeServer(lambda r: (404, {}, b"")) as service:
        client = client_for(service)
        with pytest.raises(DicomWebUnsafeUrlError, match="is not the service's"):
            client.retrieve_bulkdata(f"{other.url}/elsewhere/bulk")
        with pytest.raises(Exception, match="HTTP 404"):
            client.retrieve_bulkdata(f"{other.url}/dicom-web/studies/1/bulk/7fe00010")
        assert [r.path for r in service.requests] == ["/dicom-web/studies/1/bulk/7fe00010"]
    assert other.requests == []


def test_a_bulkdata_uri_found_in_metadata_never_leads_elsewhere(other):
    """The lookup by tag path gets a 404, then reads the BulkDataURI from the (hostile) metadata."""
    holder = {}

    def handler(request):
        if request.path.endswith("/metadata"):
            uri = tricks(other, holder["service"], "/dicom-web/x")["backslash"]
            body = json.dumps([{"7FE00010": {"vr": "OB", "BulkDataURI": uri}}]).encode()
            return 200, {"Content-Type": "application/dicom+json"}, body
        return 404, {}, b""

    with FakeServer(handler) as service:
        holder["service"] = service
        with pytest.raises(DicomWebUnsafeUrlError, match="backslash"):
            client_for(service).retrieve_bulkdata(
                study_instance_uid=STUDY,
                series_instance_uid=SERIES,
                sop_instance_uid=SOP,
                tag_path="7FE00010",
            )
    assert other.requests == []


@pytest.mark.parametrize("trick", ["backslash", "userinfo", "other-host", "climb", "encoded-climb", "query"])
def test_an_operation_name_never_leads_elsewhere_nor_fakes_a_result(other, trick):
    with FakeServer(lambda r: (200, {"Content-Type": "application/json"}, b'{"name": "op"}')) as service:
        names = {
            **tricks(other, service, "/dicom-web/operations/1"),
            "climb": "projects/p/../../../../steal",
            "encoded-climb": "projects/p/%2e%2e/%2e%2e/steal",
            "query": "projects/p/operations/1?redirect=elsewhere",
        }
        client = client_for(service)
        with pytest.raises(DicomWebUnsafeUrlError, match="refused"):
            client.wait_for_operation(names[trick], timeout=2, poll_interval=0.05)
        assert service.requests == []  # nothing was polled anywhere
    assert other.requests == []


@pytest.mark.parametrize("trick", ["backslash", "userinfo", "other-host", "tab-in-host"])
def test_a_redirect_never_leads_elsewhere(other, trick):
    holder = {}

    def handler(request):
        return 302, {"Location": tricks(other, holder["service"], "/dicom-web/studies")[trick]}, b""

    with FakeServer(handler) as service:
        holder["service"] = service
        with pytest.raises(DicomWebUnsafeUrlError, match=r"not followed|refused"):
            client_for(service).search_for_studies()
    assert other.requests == []


def test_links_on_the_service_are_still_followed(other):
    """The policy refuses only what leaves: a same-origin BulkDataURI and redirect work."""
    holder = {}

    def handler(request):
        if request.path == "/dicom-web/old/bulk":
            return 302, {"Location": f"{holder['service'].url}/dicom-web/new/bulk"}, b""
        body = b"--B\r\nContent-Type: application/octet-stream\r\n\r\nVALUE\r\n--B--\r\n"
        return 200, {"Content-Type": 'multipart/related; type="application/octet-stream"; boundary=B'}, body

    with FakeServer(handler) as service:
        holder["service"] = service
        assert client_for(service).retrieve_bulkdata(f"{service.url}/dicom-web/old/bulk") == b"VALUE"
        assert client_for(service).retrieve_bulkdata("old/bulk") == b"VALUE"
        assert [r.headers.get("Authorization", "")[:6] for r in service.requests] == ["Basic "] * 4
    assert other.requests == []

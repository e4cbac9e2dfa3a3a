"""A body cut short, on every call that reads its response whole, is retried and then raises the
package's own typed error: no exception of requests or urllib3 escapes the core.

Two ways to cut: a Content-Length that promises more than is sent, and a chunked body that stops
mid-chunk. Each is followed by the connection closing.
"""

import pytest
import requests
import urllib3

from airflow_dicomweb.core.client import DicomWebClient
from airflow_dicomweb.core.errors import DicomWebConnectionError
from tests.dicom_factory import make_instance
from tests.fakes.fake_server import FakeServer

RETRIES = 2
FAST = {"max_retries": RETRIES, "retry_initial_wait": 0.01, "retry_max_wait": 0.02}
UIDS = ("1.2.3", "1.2.3.4", "1.2.3.4.5")
CALLS = {
    "search": lambda c, tmp: c.search_for_studies(),
    "metadata": lambda c, tmp: c.retrieve_study_metadata(UIDS[0]),
    "instance-metadata": lambda c, tmp: c.retrieve_instance_metadata(*UIDS),
    "rendered": lambda c, tmp: c.retrieve_instance_rendered(*UIDS),
    "frames": lambda c, tmp: c.retrieve_instance_frames(*UIDS, [1]),
    "bulkdata": lambda c, tmp: c.retrieve_bulkdata("bulk/1"),
    "get_operation": lambda c, tmp: c.get_operation("projects/p/locations/l/datasets/d/operations/1"),
    "delete": lambda c, tmp: c.delete_study(UIDS[0]),
}
CONTENT_TYPES = {
    "rendered": "image/png",
    "frames": 'multipart/related; type="application/octet-stream"; boundary=B',
    "bulkdata": 'multipart/related; type="application/octet-stream"; boundary=B',
}
CUTS = {
    "content-length": ({"Content-Length": "5000"}, b'[{"00080018": '),
    "chunked": ({"Transfer-Encoding": "chunked"}, b'e\r\n[{"00080018": \r\n40\r\nonly-part-of-it'),
}


def cut_server(call: str, cut: str) -> FakeServer:
    framing, body = CUTS[cut]
    headers = {"Content-Type": CONTENT_TYPES.get(call, "application/dicom+json"), **framing}
    return FakeServer(lambda r: (200, headers, iter([body])))


@pytest.mark.parametrize("cut", list(CUTS))
@pytest.mark.parametrize("call", list(CALLS))
def test_a_body_cut_short_is_retried_then_raises_a_typed_error(tmp_path, call, cut):
    with cut_server(call, cut) as server:
        client = DicomWebClient.from_url(server.url, **FAST)
        with pytest.raises(Exception) as caught:
            CALLS[call](client, tmp_path)
        assert len(server.requests) == RETRIES + 1, "a cut body is transient: it is tried again"
    assert isinstance(caught.value, DicomWebConnectionError), repr(caught.value)
    assert "connection broken while reading the response" in str(caught.value)
    assert not isinstance(caught.value, requests.RequestException | urllib3.exceptions.HTTPError)


@pytest.mark.parametrize("cut", list(CUTS))
def test_a_store_whose_response_is_cut_reports_each_file_with_the_reason(tmp_path, cut):
    path = make_instance(tmp_path / "a.dcm", study_uid="1.2.3", series_uid="1.2.3.4")
    with cut_server("store", cut) as server:
        result = DicomWebClient.from_url(server.url, **FAST).store_instances([path], skip_existing=False)
        assert len(server.requests) == RETRIES + 1
    [failed] = result.failed
    assert "connection broken while reading the response" in failed.reason

"""What a server profile says changes what the transactions do, with no branch on the server's name: a
server that ignores ``offset`` is read in one request; a request-size cap splits store batches."""

import json
from urllib.parse import parse_qsl

import pydicom

from airflow_dicomweb.core import servers
from airflow_dicomweb.core.client import Transactions
from airflow_dicomweb.core.http.transport import Transport
from airflow_dicomweb.core.servers.profile import ServerProfile
from airflow_dicomweb.core.settings import DicomWebSettings
from tests.connections import FAST_RETRY_EXTRAS
from tests.dicom_factory import make_series
from tests.fakes.fake_server import FakeServer


def transactions(url: str, profile: ServerProfile) -> Transactions:
    transport = Transport(DicomWebSettings.from_connection_fields(host=url, extra=FAST_RETRY_EXTRAS))
    return Transactions.over(transport, profile)


def test_a_server_that_ignores_offset_is_asked_once_and_offset_applied_here():
    results = [{"0020000D": {"vr": "UI", "Value": [f"1.2.3.{i}"]}} for i in range(7)]

    def handler(request):
        assert "offset" not in dict(parse_qsl(request.query))
        return 200, {"Content-Type": "application/dicom+json"}, json.dumps(results).encode()

    with FakeServer(handler) as server:
        search = transactions(server.url, servers.profile("static-wado")).search
        found = search.search_for_studies(limit=3, offset=2)
        everything = search.search_for_studies()
    assert [r["0020000D"]["Value"][0] for r in found] == ["1.2.3.2", "1.2.3.3", "1.2.3.4"]
    assert len(everything) == 7
    assert len(server.requests) == 2  # one request per search, no second page


def test_a_request_size_cap_splits_the_store_into_smaller_requests(tmp_path):
    files = make_series(tmp_path, 6, rows=32, columns=32)
    size = files[0].stat().st_size
    uids = [pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID for f in files]

    def handler(request):
        sent = [u for u in uids if u.encode() in request.body]
        body = {"00081199": {"vr": "SQ", "Value": [{"00081155": {"vr": "UI", "Value": [u]}} for u in sent]}}
        return 200, {"Content-Type": "application/dicom+json"}, json.dumps(body).encode()

    with FakeServer(handler) as server:
        store = transactions(server.url, ServerProfile(name="capped", stow_max_bytes=2 * size + 10)).store
        result = store.store_instances(files, skip_existing=False)
    assert len(result.stored) == 6
    posts = [r for r in server.requests if r.method == "POST"]
    assert len(posts) == 3 and all(len(p.body) <= 2 * size + 4096 for p in posts)


def test_an_instance_larger_than_one_request_may_hold_is_refused_before_sending(tmp_path):
    small = make_series(tmp_path / "small", 2, rows=16, columns=16)
    big = make_series(tmp_path / "big", 1, rows=256, columns=256)
    uids = [pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID for f in small]

    def handler(request):
        sent = [u for u in uids if u.encode() in request.body]
        body = {"00081199": {"vr": "SQ", "Value": [{"00081155": {"vr": "UI", "Value": [u]}} for u in sent]}}
        return 200, {"Content-Type": "application/dicom+json"}, json.dumps(body).encode()

    cap = 64 * 1024  # the big instance is 128 KiB of pixels
    with FakeServer(handler) as server:
        store = transactions(server.url, ServerProfile(name="capped", stow_max_bytes=cap)).store
        result = store.store_instances([*small, *big], skip_existing=False)
    assert len(result.stored) == 2
    [refused] = result.failed
    assert (
        refused.path.endswith(big[0].name)
        and "more than one request to this server may hold" in refused.reason
    )
    assert all(len(r.body) <= cap for r in server.requests)  # it never left

"""Protocol cases a real server will not produce on demand, against a scriptable server on loopback."""

import json

import pydicom
import pytest

from airflow_dicomweb.core.client import DicomWebClient
from airflow_dicomweb.core.errors import DicomWebHTTPError, DicomWebPaginationError
from tests.connections import FAST_RETRY_EXTRAS
from tests.dicom_factory import make_series
from tests.fakes.fake_server import FakeServer


def stow_ok(uids):
    return json.dumps(
        {"00081199": {"vr": "SQ", "Value": [{"00081155": {"vr": "UI", "Value": [u]}} for u in uids]}}
    ).encode()


def test_a_retried_store_resends_the_whole_body(tmp_path):
    files = make_series(tmp_path, 3)
    import pydicom

    uids = [pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID for f in files]

    def handler(request):
        if len([r for r in server.requests if r.method == "POST"]) == 1:
            return 503, {"Retry-After": "0"}, b"busy"
        return 200, {"Content-Type": "application/dicom+json"}, stow_ok(uids)

    with FakeServer(handler) as server:
        client = DicomWebClient.from_url(server.url, **FAST_RETRY_EXTRAS)
        result = client.store_instances(files, skip_existing=False)
    assert len(result.stored) == 3
    first, second = server.requests
    assert len(first.body) == len(second.body) == int(second.headers["Content-Length"]) > 3 * 8000
    assert first.body == second.body
    for f in files:
        assert f.read_bytes() in second.body


def test_an_unacknowledged_instance_is_a_failure(tmp_path):
    files = make_series(tmp_path, 2)

    def handler(request):  # 200, but only an empty ReferencedSOPSequence (Orthanc does this for garbage)
        return 200, {"Content-Type": "application/dicom+json"}, b'{"00081199": {"vr": "SQ"}}'

    with FakeServer(handler) as server:
        result = DicomWebClient.from_url(server.url, **FAST_RETRY_EXTRAS).store_instances(
            files, skip_existing=False
        )
    assert len(result.failed) == 2
    assert "ReferencedSOPSequence does not list this instance" in result.failed[0].reason
    assert len(server.requests) == 1, "an answer that lists none of the request is not a reason to send again"


def test_instances_a_success_answer_leaves_out_are_sent_again_on_their_own_then_failed(tmp_path):
    files = make_series(tmp_path, 3)
    uids = [pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID for f in files]

    def handler(request):  # 200 for the first instance of each request only, never for the last file
        first = [u for u in uids[:2] if u.encode() in request.body][:1]
        return 200, {"Content-Type": "application/dicom+json"}, stow_ok(first)

    with FakeServer(handler) as server:
        result = DicomWebClient.from_url(server.url, **FAST_RETRY_EXTRAS).store_instances(
            files, skip_existing=False
        )
    sent = [[u for u in uids if u.encode() in r.body] for r in server.requests]
    assert sent == [uids, uids[1:], uids[2:]]
    assert [o.sop_instance_uid for o in result.stored] == uids[:2]
    [failed] = result.failed
    assert failed.sop_instance_uid == uids[2] and failed.path == str(files[2])
    assert "ReferencedSOPSequence does not list this instance" in failed.reason


def test_a_server_that_ignores_offset_is_stopped_not_looped():
    page = [{"00080018": {"vr": "UI", "Value": [f"1.2.{i}"]}} for i in range(5)]

    def handler(request):
        return 200, {"Content-Type": "application/dicom+json"}, json.dumps(page).encode()

    with FakeServer(handler) as server:
        client = DicomWebClient.from_url(server.url, **FAST_RETRY_EXTRAS)
        with pytest.raises(DicomWebPaginationError, match="ignore 'offset'"):
            list(client.iter_search("instances", page_size=5))
    assert len(server.requests) == 2


def test_204_is_an_empty_result_and_a_warning_header_asks_for_more():
    pages = {
        "0": [{"0020000D": {"vr": "UI", "Value": ["1.1"]}}],
        "1": [{"0020000D": {"vr": "UI", "Value": ["1.2"]}}],
    }

    def handler(request):
        offset = dict(p.split("=") for p in request.query.split("&")).get("offset", "0")
        if offset in pages:
            headers = {"Content-Type": "application/dicom+json"}
            if offset == "0":
                headers["Warning"] = '299 pacs: "There are more matching results"'
            return 200, headers, json.dumps(pages[offset]).encode()
        return 204, {}, b""

    with FakeServer(handler) as server:
        client = DicomWebClient.from_url(server.url, **FAST_RETRY_EXTRAS)
        found = client.search_for_studies()
    assert [s["0020000D"]["Value"][0] for s in found] == ["1.1", "1.2"]


def study_results(n: int) -> list[dict]:
    return [{"0020000D": {"vr": "UI", "Value": [f"1.2.3.{i}"]}} for i in range(n)]


def test_a_search_page_cut_mid_stream_is_asked_again_and_nothing_is_given_twice():
    """Results are handed over as they arrive; when the page is cut after some of them, it is asked again
    and those already given are skipped, so the consumer sees each result exactly once."""
    body = json.dumps(study_results(300)).encode()

    def handler(request):
        if "offset=300" in request.query:  # the page after the last: empty
            return 200, {"Content-Type": "application/dicom+json"}, b"[]"
        if len(server.requests) == 1:  # the first answer stops two thirds of the way, then closes
            return (
                200,
                {"Content-Type": "application/dicom+json", "Content-Length": str(len(body))},
                [body[: len(body) * 2 // 3]],
            )
        return 200, {"Content-Type": "application/dicom+json"}, body

    with FakeServer(handler) as server:
        client = DicomWebClient.from_url(server.url, **FAST_RETRY_EXTRAS)
        uids = [r["0020000D"]["Value"][0] for r in client.iter_search("studies", page_size=1000)]
    assert uids == [f"1.2.3.{i}" for i in range(300)]
    assert len(server.requests) == 3  # the cut page, again, then the empty page that ends the search


def test_a_search_page_streams_to_the_consumer_before_it_ends():
    """A consumer gets the first results while the server is still sending the page."""
    import threading

    first_taken = threading.Event()
    items = [json.dumps(r).encode() for r in study_results(50)]

    def body():
        yield b"[" + items[0] + b","
        assert first_taken.wait(10), "the first result was not handed over before the page ended"
        yield b",".join(items[1:]) + b"]"

    with FakeServer(lambda r: (200, {"Content-Type": "application/dicom+json"}, body())) as server:
        results = DicomWebClient.from_url(server.url, **FAST_RETRY_EXTRAS).iter_search(
            "studies", page_size=100
        )
        assert next(results)["0020000D"]["Value"] == ["1.2.3.0"]
        first_taken.set()
        assert len(list(results)) == 49


def test_a_frame_list_is_sent_with_commas_as_ps3_18_writes_it():
    """``frames/1,3``: RFC 3986 allows a comma in a path segment, and ``%2C`` is not the same to a server."""
    boundary = "frames-boundary"
    body = (
        b"".join(
            f"--{boundary}\r\nContent-Type: application/octet-stream\r\n\r\n".encode() + frame + b"\r\n"
            for frame in (b"\x01" * 16, b"\x03" * 16)
        )
        + f"--{boundary}--\r\n".encode()
    )

    def handler(request):
        headers = {"Content-Type": f'multipart/related; type="application/octet-stream"; boundary={boundary}'}
        return 200, headers, body

    with FakeServer(handler) as server:
        frames = DicomWebClient.from_url(server.url, **FAST_RETRY_EXTRAS).retrieve_instance_frames(
            "1.2.3", "1.2.3.4", "1.2.3.4.5", [1, 3]
        )
    assert frames == [b"\x01" * 16, b"\x03" * 16]
    assert server.requests[0].path == "/studies/1.2.3/series/1.2.3.4/instances/1.2.3.4.5/frames/1,3"


def test_a_relative_bulkdata_uri_resolves_against_the_metadata_that_carried_it():
    """RFC 3986: ``./frames`` in ``.../instances/3/metadata`` is ``.../instances/3/frames``, not a path under
    the service root (OHIF's static-wado writes such URIs)."""
    boundary = "bulk-boundary"
    value = b"\x07" * 32

    def handler(request):
        if request.path.endswith("/metadata"):
            body = json.dumps([{"7FE00010": {"vr": "OW", "BulkDataURI": "./frames"}}]).encode()
            return 200, {"Content-Type": "application/dicom+json"}, body
        if request.path.endswith("/instances/1.2.3.4.5/frames"):
            body = (
                f"--{boundary}\r\nContent-Type: application/octet-stream\r\n\r\n".encode()
                + value
                + f"\r\n--{boundary}--\r\n".encode()
            )
            headers = {
                "Content-Type": f'multipart/related; type="application/octet-stream"; boundary={boundary}'
            }
            return 200, headers, body
        return 404, {}, b""

    with FakeServer(handler) as server:
        got = DicomWebClient.from_url(server.url + "/dicomweb", **FAST_RETRY_EXTRAS).retrieve_bulkdata(
            study_instance_uid="1.2.3",
            series_instance_uid="1.2.3.4",
            sop_instance_uid="1.2.3.4.5",
            tag_path="7FE00010",
        )
    assert got == value
    assert [r.path for r in server.requests][
        -1
    ] == "/dicomweb/studies/1.2.3/series/1.2.3.4/instances/1.2.3.4.5/frames"


def test_a_store_to_a_server_that_is_gone_ends_after_one_retry_budget_not_one_per_batch(tmp_path):
    """Once a request could not reach the server after every retry, the batches after it are not sent:
    each file still gets its outcome, and no file waits through a retry budget of its own."""
    from tests.servers.orthanc_server import free_port

    files = make_series(tmp_path, 30, rows=8, columns=8)
    client = DicomWebClient.from_url(f"http://127.0.0.1:{free_port()}/dicom-web", **FAST_RETRY_EXTRAS)
    result = client.store_instances(files, skip_existing=False, batch_files=1, concurrency=2)
    assert len(result.failed) == 30 and not result.stored
    tried = [o for o in result.failed if o.reason.startswith("request failed")]
    skipped = [o for o in result.failed if o.reason.startswith("not sent: the server could not be reached")]
    assert 1 <= len(tried) <= 4  # those in flight when the first one gave up (two per thread at most)
    assert len(tried) + len(skipped) == 30


def test_a_transfer_syntax_the_server_cannot_send_is_named_or_falls_back(tmp_path):
    [source] = make_series(tmp_path / "src", 1, rows=8, columns=8)
    data = source.read_bytes()
    ds = pydicom.dcmread(source, stop_before_pixels=True)
    boundary = "ts-boundary"

    def handler(request):
        if "transfer-syntax=" in request.headers.get("Accept", ""):
            return 406, {"Content-Type": "text/plain"}, b"only 1.2.840.10008.1.2.1 here"
        body = (
            f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode()
            + data
            + f"\r\n--{boundary}--\r\n".encode()
        )
        return (
            200,
            {"Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}'},
            body,
        )

    uids = (ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID)
    with FakeServer(handler) as server:
        strict = DicomWebClient.from_url(server.url, **FAST_RETRY_EXTRAS)
        with pytest.raises(
            DicomWebHTTPError, match=r"cannot send transfer syntax 1\.2\.840\.10008\.1\.2\.4\.201"
        ):
            strict.retrieve_instance(*uids, tmp_path / "a", transfer_syntax="htj2k-lossless")
        assert "transfer-syntax=1.2.840.10008.1.2.4.201" in server.requests[-1].headers["Accept"]
        lenient = DicomWebClient.from_url(server.url, transfer_syntax_fallback=True, **FAST_RETRY_EXTRAS)
        [path] = lenient.retrieve_instance(*uids, tmp_path / "b", transfer_syntax="htj2k-lossless")
    assert path.read_bytes() == data
    assert "transfer-syntax" not in server.requests[-1].headers["Accept"]  # the server's default
    with pytest.raises(ValueError, match="not \\*, a UID, or one of"):
        strict.retrieve_instance(*uids, tmp_path / "c", transfer_syntax="webp")

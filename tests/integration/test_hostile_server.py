"""A hostile or broken server (a scriptable fake on loopback): nothing is written outside the destination,
memory stays bounded, and each case ends in a clear error."""

import io
import json
import tracemalloc
import warnings
from pathlib import Path

import pydicom
import pytest
from pydicom.uid import generate_uid

from airflow_dicomweb.core.client import DicomWebClient
from airflow_dicomweb.core.errors import (
    DicomWebOperationTimeoutError,
    DicomWebResponseError,
    MultipartError,
)
from tests.dicom_factory import make_instance
from tests.fakes.fake_server import FakeServer

FAST = {"max_retries": 2, "retry_initial_wait": 0.01, "retry_max_wait": 0.02}
STUDY = "1.2.3.4"


def instance_bytes(tmp_path: Path, **uids) -> bytes:
    path = make_instance(tmp_path / "i.dcm", study_uid=STUDY, series_uid="1.2.3.4.5", rows=8, columns=8)
    ds = pydicom.dcmread(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns about the invalid UIDs this test wants
        for keyword, value in uids.items():
            setattr(ds, keyword, value)
        out = io.BytesIO()
        ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def multipart(*parts: bytes, boundary="B0UNDARY", part_type="application/dicom", close=True):
    body = b"".join(
        f"--{boundary}\r\nContent-Type: {part_type}\r\n\r\n".encode() + p + b"\r\n" for p in parts
    )
    if close:
        body += f"--{boundary}--\r\n".encode()
    return {"Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}'}, body


def serve(headers, body, status=200):
    return FakeServer(lambda request: (status, headers, body))


def nothing_written(root: Path, dest: Path) -> bool:
    outside = [p for p in root.rglob("*") if p.is_file() and dest not in p.parents and p.name != "i.dcm"]
    inside = [p for p in dest.rglob("*") if p.is_file()] if dest.exists() else []
    return outside == [] and inside == []


@pytest.mark.parametrize("hostile", ["../../x", "/etc/x", "1.2/../../x", "..", ""])
def test_a_part_whose_uid_is_a_path_is_refused_before_it_names_anything(tmp_path, hostile):
    headers, body = multipart(instance_bytes(tmp_path, SOPInstanceUID=hostile))
    dest = tmp_path / "sub" / "dest"
    with serve(headers, body) as server:
        with pytest.raises(DicomWebResponseError, match="not a usable DICOM instance"):
            DicomWebClient.from_url(server.url, **FAST).retrieve_study(STUDY, dest)
    assert nothing_written(tmp_path, dest)


def test_a_multipart_body_without_closing_boundary_is_retried_then_refused(tmp_path):
    headers, body = multipart(instance_bytes(tmp_path), close=False)
    dest = tmp_path / "dest"
    with FakeServer(lambda r: (200, headers, iter([body]))) as server:  # streamed, then the connection closes
        with pytest.raises(MultipartError, match="without its closing boundary"):
            DicomWebClient.from_url(server.url, **FAST).retrieve_study(STUDY, dest)
        # retried: a cut response may be whole next time (the series listing came first, and failed)
        assert len([r for r in server.requests if not r.path.endswith("/series")]) == 3
    assert nothing_written(tmp_path, dest)


def test_a_part_header_of_several_mb_is_refused_with_bounded_memory(tmp_path):
    huge = b"--B\r\nX-Junk: " + b"x" * (20 * 1024 * 1024) + b"\r\n\r\ndata\r\n--B--\r\n"

    def chunks():
        for i in range(0, len(huge), 65536):
            yield huge[i : i + 65536]

    headers = {"Content-Type": 'multipart/related; type="application/dicom"; boundary=B'}
    with FakeServer(lambda r: (200, headers, chunks())) as server:
        client = DicomWebClient.from_url(server.url, **FAST)
        tracemalloc.start()
        with pytest.raises(MultipartError, match="header block larger than 65536 bytes"):
            client.retrieve_study(STUDY, tmp_path / "dest")
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB while the server sent 20 MiB of header"


def test_wrong_content_types_are_named(tmp_path):
    headers, body = multipart(instance_bytes(tmp_path), part_type="text/plain")
    with serve(headers, body) as server:
        with pytest.raises(DicomWebResponseError, match="part 0 is 'text/plain', not application/dicom"):
            DicomWebClient.from_url(server.url, **FAST).retrieve_study(STUDY, tmp_path / "dest")
    with serve({"Content-Type": "text/html"}, b"<html>login page</html>") as server:
        client = DicomWebClient.from_url(server.url, **FAST)
        with pytest.raises(
            DicomWebResponseError, match="expected multipart/related or application/dicom, got 'text/html'"
        ):
            client.retrieve_study(STUDY, tmp_path / "dest")
        with pytest.raises(DicomWebResponseError, match="asked for image/png, got text/html"):
            client.retrieve_instance_rendered(STUDY, "1.2", "1.3")


def test_an_html_page_with_200_and_invalid_json_from_qido_are_clear_errors(tmp_path):
    with serve({"Content-Type": "text/html"}, b"<html><body>Maintenance</body></html>") as server:
        client = DicomWebClient.from_url(server.url, **FAST)
        with pytest.raises(DicomWebResponseError, match="QIDO-RS response is not JSON; it starts b'<html>"):
            client.search_for_studies()
        result = client.store_instances([_write(tmp_path, instance_bytes(tmp_path))], skip_existing=False)
        assert "unreadable STOW-RS response" in result.failed[0].reason
    with serve({"Content-Type": "application/dicom+json"}, b'[{"0020000D": ') as server:
        with pytest.raises(DicomWebResponseError, match="not JSON"):
            DicomWebClient.from_url(server.url, **FAST).search_for_studies()
    with serve({"Content-Type": "application/dicom+json"}, b'{"not": "a list"}') as server:
        with pytest.raises(DicomWebResponseError, match="not a JSON array of datasets"):
            DicomWebClient.from_url(server.url, **FAST).search_for_studies()


def _write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / f"{generate_uid()}.dcm"
    path.write_bytes(data)
    return path


def test_an_operation_that_never_finishes_times_out():
    running = json.dumps({"name": "projects/p/locations/l/datasets/d/operations/9", "metadata": {}}).encode()
    with serve({"Content-Type": "application/json"}, running) as server:
        client = DicomWebClient.from_url(server.url, **FAST)
        with pytest.raises(DicomWebOperationTimeoutError, match=r"still running after 0\.3 s"):
            client.wait_for_operation(
                "projects/p/locations/l/datasets/d/operations/9", timeout=0.3, poll_interval=0.05
            )


def test_a_redirect_to_another_host_is_not_followed_and_no_credential_leaves(tmp_path):
    with FakeServer(lambda r: (200, {"Content-Type": "application/dicom+json"}, b"[]")) as elsewhere:
        target = f"{elsewhere.url}/steal"
        with FakeServer(lambda r: (302, {"Location": target}, b"")) as server:
            client = DicomWebClient.from_url(
                server.url, login="user", password="never-sent-elsewhere", **FAST
            )
            with pytest.raises(
                DicomWebResponseError,
                match=r"redirected to .*/steal': its port \d+ is not the service's port",
            ):
                client.search_for_studies()
        assert elsewhere.requests == []


def test_a_redirect_on_the_same_host_is_followed():
    def handler(request):
        if request.path == "/old/studies":
            return 301, {"Location": "/new/studies?" + request.query}, b""
        return 200, {"Content-Type": "application/dicom+json"}, b"[]"

    with FakeServer(handler) as server:
        client = DicomWebClient.from_url(f"{server.url}/old", login="u", password="p", **FAST)
        assert client.search_for_studies() == []
        assert [r.path for r in server.requests] == ["/old/studies", "/new/studies"]

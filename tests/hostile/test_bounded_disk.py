"""No response can fill the disk through compression: DICOM downloads ask for ``Accept-Encoding:
identity``, and a binary body that arrives compressed anyway is decoded only while it expands less than
100-fold, so a gzip bomb is refused after a few MiB and leaves nothing behind. An honestly compressed
response (a proxy that gzips despite being asked not to) still arrives whole."""

import gzip
import shutil
from pathlib import Path

import pytest

from airflow_dicomweb.core.client import DicomWebClient
from airflow_dicomweb.core.errors import DicomWebResponseTooLargeError
from tests.dicom_factory import make_instance
from tests.fakes.fake_server import FakeServer
from tests.fakes.hostile_payloads import gzip_bomb, multipart_head

FAST = {"max_retries": 0}
MULTIPART_DICOM = 'multipart/related; type="application/dicom"; boundary=B'
MULTIPART_BULK = 'multipart/related; type="application/octet-stream"; boundary=B'


def bomb(head: bytes) -> bytes:
    """A multipart body whose one part decodes to 1 GiB of zeros: gzip members, the head first."""
    return gzip.compress(head) + gzip_bomb(1024)


def disk_usage(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def serve_encoded(content_type: str, body: bytes) -> FakeServer:
    headers = {"Content-Type": content_type, "Content-Encoding": "gzip", "Content-Length": str(len(body))}
    return FakeServer(lambda r: (200, headers, body))


def test_a_gzip_bomb_into_a_study_retrieve_is_refused_and_leaves_nothing(tmp_path):
    dest = tmp_path / "dest"
    with serve_encoded(MULTIPART_DICOM, bomb(multipart_head(part_type="application/dicom"))) as server:
        with pytest.raises(DicomWebResponseTooLargeError, match="expands more than 100-fold"):
            DicomWebClient.from_url(server.url, **FAST).retrieve_study("1.2.3", dest)
        downloads = [
            r for r in server.requests if r.path.endswith("/studies/1.2.3")
        ]  # not the series listing
        assert downloads and all(r.headers["Accept-Encoding"] == "identity" for r in downloads)
    assert disk_usage(tmp_path) == 0
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


def test_a_gzip_bomb_into_bulkdata_streamed_to_a_file_is_refused_and_leaves_nothing(tmp_path):
    target = tmp_path / "out" / "pixels.raw"
    with serve_encoded(MULTIPART_BULK, bomb(multipart_head())) as server:
        with pytest.raises(DicomWebResponseTooLargeError, match="expands more than 100-fold"):
            DicomWebClient.from_url(server.url, **FAST).retrieve_bulkdata("bulk/1", dest_path=target)
        assert server.requests[0].headers["Accept-Encoding"] == "identity"
    assert disk_usage(tmp_path) == 0


def test_an_honestly_compressed_instance_still_arrives_byte_identical(tmp_path):
    source = make_instance(
        tmp_path / "src.dcm",
        study_uid="1.2.3",
        series_uid="1.2.3.4",
        sop_uid="1.2.3.4.5",
        rows=256,
        columns=256,
    )
    data = source.read_bytes()
    body = gzip.compress(multipart_head(part_type="application/dicom") + data + b"\r\n--B--\r\n")
    with serve_encoded(MULTIPART_DICOM, body) as server:
        [path] = DicomWebClient.from_url(server.url, **FAST).retrieve_study("1.2.3", tmp_path / "dest")
    assert path.read_bytes() == data
    shutil.rmtree(tmp_path / "dest")

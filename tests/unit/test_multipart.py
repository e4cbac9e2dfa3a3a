import random
import socket

import pytest

from airflow_dicomweb.core.errors import MultipartError
from airflow_dicomweb.core.media_types import parse_content_type
from airflow_dicomweb.core.multipart.reader import PartEnd, PartStart, iter_multipart
from airflow_dicomweb.core.multipart.writer import BodyPart, FileRegion, InputChangedError, MultipartBody


def decode(chunks, boundary, **kw):
    """Parts as (headers, bytes) from the event stream, copying views as the consumer must."""
    parts, current, headers = [], None, None
    for event in iter_multipart(chunks, boundary, **kw):
        if isinstance(event, PartStart):
            headers, current = event.headers, bytearray()
        elif isinstance(event, PartEnd):
            assert event.size == len(current)
            parts.append((headers, bytes(current)))
        else:
            current += event
    return parts


def split_every(data: bytes, size: int):
    return [data[i : i + size] for i in range(0, len(data), size)]


BODY = (
    b"preamble text to ignore\r\n"
    b"--XYZ\r\nContent-Type: application/dicom\r\nContent-Location: /a\r\n\r\n"
    b"first\r\n--XY not a boundary\r\n"
    b"\r\n--XYZ\r\nContent-Type: application/dicom\r\n\r\n"
    b"second part"
    b"\r\n--XYZ--\r\nepilogue to ignore"
)
EXPECTED = [
    ({"content-type": "application/dicom", "content-location": "/a"}, b"first\r\n--XY not a boundary\r\n"),
    ({"content-type": "application/dicom"}, b"second part"),
]


def test_preamble_and_epilogue_are_ignored():
    assert decode([BODY], "XYZ") == EXPECTED


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 8, 13, 64])
def test_boundary_split_across_chunks_at_every_position(size):
    assert decode(split_every(BODY, size), "XYZ") == EXPECTED


def test_random_chunking_of_binary_parts_containing_near_boundaries():
    rng = random.Random(7)
    payloads = [rng.randbytes(rng.randint(0, 5000)) + b"\r\n--bound" + rng.randbytes(50) for _ in range(6)]
    body = b"".join(
        b"--bound1\r\nContent-Type: application/octet-stream\r\n\r\n" + p + b"\r\n" for p in payloads
    )
    body += b"--bound1--\r\n"
    for _ in range(20):
        chunks, i = [], 0
        while i < len(body):
            n = rng.randint(1, 700)
            chunks.append(body[i : i + n])
            i += n
        assert [p for _, p in decode(chunks, "bound1")] == payloads


def test_first_boundary_without_leading_crlf_and_empty_headers():
    body = b"--b\r\n\r\nno headers\r\n--b--"
    assert decode([body], "b") == [({}, b"no headers")]


def test_quoted_boundary_from_content_type():
    media, params = parse_content_type('multipart/related; type="application/dicom"; boundary="a b:c=d"')
    assert media == "multipart/related"
    assert params["type"] == "application/dicom"
    body = b"--a b:c=d\r\nContent-Type: application/dicom\r\n\r\nX\r\n--a b:c=d--\r\n"
    assert decode([body], params["boundary"]) == [({"content-type": "application/dicom"}, b"X")]


def test_orthanc_type_parameter_with_semicolon_inside_quotes():
    _, params = parse_content_type(
        'multipart/related; type="application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1"; boundary=ab-12'
    )
    assert params == {
        "type": "application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1",
        "boundary": "ab-12",
    }


def test_missing_closing_boundary_is_a_retryable_error():
    body = b"--b\r\nContent-Type: application/dicom\r\n\r\ncut in the mid"
    with pytest.raises(MultipartError, match="without its closing boundary") as info:
        decode(split_every(body, 4), "b")
    assert info.value.retryable


def test_body_without_any_boundary():
    with pytest.raises(MultipartError, match="no multipart boundary"):
        decode([b"<html>error page</html>"], "b")


def test_oversized_part_headers_are_refused():
    body = b"--b\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\ndata\r\n--b--"
    with pytest.raises(MultipartError, match="header block larger"):
        decode(split_every(body, 4096), "b", max_header_bytes=64 * 1024)


def test_malformed_header_line():
    with pytest.raises(MultipartError, match="malformed header"):
        decode([b"--b\r\nnot a header\r\n\r\nx\r\n--b--"], "b")


def test_writer_roundtrip_length_and_reiteration(tmp_path):
    f1 = tmp_path / "a.dcm"
    f1.write_bytes(b"A" * 3_000_001)
    f2 = tmp_path / "b.dcm"
    f2.write_bytes(bytes(range(256)) * 10)
    body = MultipartBody(
        [
            BodyPart.from_file(f1, "application/dicom"),
            BodyPart.from_bytes(b"{}", "application/dicom+json"),
            BodyPart.from_file(f2, "application/dicom", Content_Location="x"),
        ],
        part_type="application/dicom",
        block_size=65536,
    )
    first = b"".join(bytes(c) for c in body.iter_bytes())
    second = b"".join(bytes(c) for c in body.iter_bytes())  # a retry re-sends every byte
    # as sent: each file of this machine a region the connection hands to the kernel, the same bytes
    sent = [c if isinstance(c, bytes | memoryview) else b"".join(bytes(b) for b in c) for c in body]
    assert sum(isinstance(c, FileRegion) for c in body) == 2
    assert b"".join(bytes(c) for c in sent) == first
    assert first == second
    assert len(first) == len(body)
    _, params = parse_content_type(body.content_type)
    parts = decode(split_every(first, 9999), params["boundary"])
    assert [p for _, p in parts] == [f1.read_bytes(), b"{}", f2.read_bytes()]
    assert parts[2][0] == {"content-type": "application/dicom", "content-location": "x"}


def test_writer_detects_a_file_changed_after_measuring(tmp_path):
    f = tmp_path / "a.dcm"
    f.write_bytes(b"x" * 100)
    body = MultipartBody([BodyPart.from_file(f, "application/dicom")], part_type="application/dicom")
    f.write_bytes(b"x" * 50)
    with pytest.raises(InputChangedError, match="changed while being sent"):
        b"".join(bytes(c) for c in body.iter_bytes())
    (region,) = [c for c in body if isinstance(c, FileRegion)]
    left, right = socket.socketpair()
    with left, right, pytest.raises(InputChangedError, match="changed while being sent"):
        region.send_to(left)  # sendfile is not started on a file of another size


def test_large_random_parts_with_every_chunk_size_around_the_delimiter_length():
    rng = random.Random(11)
    boundary = "b" * 30
    parts = [rng.randbytes(n) + b"\r\n--" + boundary.encode()[:20] for n in (0, 1, 33, 5000, 70000)]
    body = b"".join(
        f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode() + p + b"\r\n" for p in parts
    )
    body += f"--{boundary}--".encode()
    for size in (1, 2, 31, 32, 33, 34, 35, 36, 64, 1000, 65536):
        assert [p for _, p in decode(split_every(body, size), boundary)] == parts, size

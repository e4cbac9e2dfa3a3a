"""Properties of the multipart/related decoder and encoder (hypothesis): any boundary, any parts, any
preamble and epilogue, the body cut into chunks anywhere, down to one byte at a time."""

import itertools
import string

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from airflow_dicomweb.core.multipart.reader import PartEnd, PartStart, iter_multipart
from airflow_dicomweb.core.multipart.writer import BodyPart, MultipartBody

# RFC 2046 bchars (a boundary may not end in a space, so none is used)
BOUNDARIES = st.text(alphabet=string.ascii_letters + string.digits + "'()+_,-./:=?", min_size=1, max_size=70)
HEADER_VALUES = st.text(alphabet=string.ascii_letters + string.digits + ' /;=.-_"', max_size=40).map(
    str.strip
)
PARTS = st.lists(
    st.tuples(
        st.dictionaries(
            st.sampled_from(["Content-Type", "Content-Location", "X-Extra"]), HEADER_VALUES, max_size=3
        ),
        st.binary(max_size=400),
    ),
    min_size=1,
    max_size=5,
)


def encode(parts, boundary: str, preamble: bytes, epilogue: bytes) -> bytes:
    out = [preamble]
    for headers, data in parts:
        block = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        out.append(f"--{boundary}\r\n{block}\r\n".encode() + data + b"\r\n")
    out.append(f"--{boundary}--".encode() + epilogue)
    return b"".join(out)


def decode(chunks, boundary: str):
    parts, current, headers = [], [], {}
    for event in iter_multipart(chunks, boundary):
        if isinstance(event, PartStart):
            current, headers = [], event.headers
        elif isinstance(event, PartEnd):
            parts.append((headers, b"".join(current)))
            assert event.size == len(parts[-1][1])
        else:
            current.append(bytes(event))
    return parts


def cut(body: bytes, points: list[int]) -> list[bytes]:
    edges = sorted({0, len(body), *(p % (len(body) + 1) for p in points)})
    return [body[a:b] for a, b in itertools.pairwise(edges)]


def expected(parts):
    return [({k.lower(): v for k, v in headers.items()}, data) for headers, data in parts]


@settings(max_examples=300, deadline=None)
@given(
    parts=PARTS,
    boundary=BOUNDARIES,
    preamble=st.binary(max_size=80),
    epilogue=st.binary(max_size=80),
    points=st.lists(st.integers(min_value=0), max_size=12),
)
def test_any_body_cut_anywhere_decodes_to_its_parts(parts, boundary, preamble, epilogue, points):
    delimiter = b"--" + boundary.encode()
    assume(all(delimiter not in data for _, data in parts))
    assume(delimiter not in b"\r\n" + preamble + b"\r\n")  # else the preamble holds the first boundary
    body = encode(parts, boundary, preamble + (b"\r\n" if preamble else b""), epilogue)
    assert decode(cut(body, points), boundary) == expected(parts)


@settings(max_examples=60, deadline=None)
@given(parts=PARTS, boundary=BOUNDARIES)
def test_a_body_fed_one_byte_at_a_time_decodes_to_its_parts(parts, boundary):
    delimiter = b"--" + boundary.encode()
    assume(all(delimiter not in data for _, data in parts))
    body = encode(parts, boundary, b"", b"\r\n")
    assert decode((body[i : i + 1] for i in range(len(body))), boundary) == expected(parts)


@settings(max_examples=200, deadline=None)
@given(
    datas=st.lists(st.binary(max_size=3000), min_size=1, max_size=6),
    location=st.text(alphabet=string.ascii_letters + string.digits + "/-", min_size=1, max_size=20),
    block_size=st.integers(min_value=1, max_value=4096),
)
def test_the_encoder_round_trips_and_knows_its_length(datas, location, block_size):
    parts = [
        BodyPart.from_bytes(d, "application/dicom", Content_Location=f"{location}{i}")
        for i, d in enumerate(datas)
    ]
    body = MultipartBody(parts, part_type="application/dicom", block_size=block_size)
    encoded = b"".join(bytes(chunk) for chunk in body)
    assert len(body) == len(encoded)
    assert b"".join(bytes(chunk) for chunk in body) == encoded  # re-iterable: a retry sends it all again
    decoded = decode([encoded], body.boundary)
    assert [d for _, d in decoded] == datas
    assert [h["content-location"] for h, _ in decoded] == [f"{location}{i}" for i in range(len(datas))]
    assert all(h["content-type"] == "application/dicom" for h, _ in decoded)

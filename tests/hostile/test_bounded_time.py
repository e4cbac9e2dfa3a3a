"""No response can keep a transfer running forever: a body trickling in below the speed floor is cut like
curl's ``--speed-limit``/``--speed-time`` and retried, and a body held in memory must arrive within twice
the read timeout. A trickle of one byte every 0.2 s never trips the 2 s read timeout on its own."""

import time

import pytest

from airflow_dicomweb.core.client import DicomWebClient
from airflow_dicomweb.core.errors import DicomWebConnectionError
from tests.fakes.fake_server import FakeServer
from tests.fakes.hostile_payloads import multipart_head, trickle

INTERVAL = 0.2
#: Read timeout 2 s; the floor: 100 bytes/s over 1 s windows; one retry.
LIMITS = {"timeout": 2, "speed_limit": 100, "speed_time": 1, "max_retries": 1, "retry_initial_wait": 0.01}


def trickling(content_type: str, body: bytes) -> FakeServer:
    headers = {"Content-Type": content_type, "Content-Length": str(len(body) * 100)}
    return FakeServer(lambda r: (200, headers, trickle(body * 100, INTERVAL)))


@pytest.mark.parametrize(
    ("content_type", "body", "call"),
    [
        ("application/dicom+json", b'[{"0020000D": {"vr": "UI"}}, ', lambda c, d: c.search_for_studies()),
        (
            'multipart/related; type="application/dicom"; boundary=B',
            multipart_head(part_type="application/dicom") + b"\0" * 200,
            lambda c, d: c.retrieve_study("1.2.3", d),
        ),
    ],
    ids=["search", "study-retrieve"],
)
def test_a_one_byte_trickle_is_cut_by_the_speed_floor_and_retried(tmp_path, content_type, body, call):
    with trickling(content_type, body) as server:
        client = DicomWebClient.from_url(server.url, **LIMITS)
        started = time.monotonic()
        with pytest.raises(DicomWebConnectionError, match=r"below the floor of 100 bytes/s"):
            call(client, tmp_path / "dest")
        elapsed = time.monotonic() - started
        assert len(server.requests) == 2  # cut, tried again, cut again
    assert elapsed < 10, f"took {elapsed:.1f} s"
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


def test_a_body_held_in_memory_has_a_deadline_even_above_the_floor():
    """With the floor off, a search body arriving 5 bytes a second is cut at twice the read timeout."""
    with trickling("application/dicom+json", b'[{"0020000D": {"vr": "UI"}}, ') as server:
        client = DicomWebClient.from_url(
            server.url, **{**LIMITS, "speed_limit": 0, "timeout": 1, "max_retries": 0}
        )
        started = time.monotonic()
        with pytest.raises(DicomWebConnectionError, match=r"took longer than 2 s to arrive"):
            client.search_for_studies()
    assert 2 <= time.monotonic() - started < 6

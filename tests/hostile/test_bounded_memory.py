"""No response can exhaust the worker's memory: every body held in memory is capped at ``max_response_mib``
once *decoded*, and the cap is checked as bytes arrive.

Each case runs the client in a child process and measures its peak RSS (VmHWM), against a server on
loopback that sends a gzip bomb (1 GiB once decoded), a JSON body that never ends, or a part that never ends.
"""

import json

import pytest

from tests.fakes.fake_server import FakeServer
from tests.fakes.hostile_payloads import endless, gzip_bomb, multipart_head, run_in_child

CAP_MIB = 16
#: The cap, the decoder's bounded steps, buffers and a little interpreter noise.
ALLOWED_GROWTH_MIB = 64
BOMB_MIB = 1024

CALLS = {
    "search": "client.search_for_studies()",
    "metadata": "client.retrieve_study_metadata('1.2.3')",
    "rendered": "client.retrieve_instance_rendered('1.2.3', '1.2.3.4', '1.2.3.4.5')",
    "operation": "client.get_operation('projects/p/locations/l/datasets/d/operations/1')",
}
CONTENT_TYPES = {
    "search": "application/dicom+json",
    "metadata": "application/dicom+json",
    "rendered": "image/png",
    "operation": "application/json",
}


def bomb_server(content_type: str, status: int = 200) -> FakeServer:
    body = gzip_bomb(BOMB_MIB, fill=b"[" if "json" in content_type else b"\0")
    headers = {"Content-Type": content_type, "Content-Encoding": "gzip", "Content-Length": str(len(body))}
    return FakeServer(lambda r: (status, headers, body))


@pytest.mark.parametrize("call", list(CALLS))
def test_a_gigabyte_gzip_bomb_is_refused_at_the_cap_with_bounded_memory(call):
    with bomb_server(CONTENT_TYPES[call]) as server:
        result = run_in_child(server.url, CALLS[call], max_response_mib=CAP_MIB, max_retries=0)
    assert result["error"] == "DicomWebResponseTooLargeError", result
    assert (
        f"larger than {CAP_MIB} MiB once decoded" in result["message"] or "expands more" in result["message"]
    )
    assert result["growth_mib"] < ALLOWED_GROWTH_MIB, f"peak RSS grew {result['growth_mib']:.0f} MiB"


def test_the_default_cap_holds_a_bomb_near_256_mib_not_near_a_gigabyte():
    with bomb_server("application/dicom+json") as server:
        result = run_in_child(server.url, CALLS["metadata"], max_retries=0)
    assert result["error"] == "DicomWebResponseTooLargeError", result
    assert "larger than 256 MiB" in result["message"]
    assert result["growth_mib"] < 256 + 128, f"peak RSS grew {result['growth_mib']:.0f} MiB"


def test_a_bomb_in_an_error_body_costs_nothing():
    """Error bodies are read up to 64 KiB for the message, decoded a bounded step at a time."""
    with bomb_server("text/plain", status=500) as server:
        result = run_in_child(server.url, CALLS["search"], max_retries=0)
    assert result["error"] == "DicomWebHTTPError", result
    assert result["growth_mib"] < ALLOWED_GROWTH_MIB, f"peak RSS grew {result['growth_mib']:.0f} MiB"


def test_an_endless_json_body_is_cut_at_the_cap():
    item = json.dumps({"0020000D": {"vr": "UI", "Value": ["1.2.3"]}}).encode() + b","
    with FakeServer(
        lambda r: (200, {"Content-Type": "application/dicom+json"}, endless(b"[", item))
    ) as server:
        result = run_in_child(server.url, CALLS["search"], max_response_mib=CAP_MIB, max_retries=0)
    assert result["error"] == "DicomWebResponseTooLargeError", result
    assert result["growth_mib"] < ALLOWED_GROWTH_MIB, f"peak RSS grew {result['growth_mib']:.0f} MiB"


@pytest.mark.parametrize(
    "call",
    [
        "client.retrieve_instance_frames('1.2.3', '1.2.3.4', '1.2.3.4.5', [1])",
        "client.retrieve_bulkdata('studies/1.2.3/bulk/7fe00010')",
        "client.retrieve_study_metadata('1.2.3', media_type='application/dicom+xml')",
    ],
    ids=["frames", "bulkdata-as-bytes", "xml-metadata"],
)
def test_a_part_that_never_ends_is_cut_at_the_cap(call):
    headers = {"Content-Type": 'multipart/related; type="application/octet-stream"; boundary=B'}
    with FakeServer(lambda r: (200, headers, endless(multipart_head(), b"\x7f" * 4096))) as server:
        result = run_in_child(server.url, call, max_response_mib=CAP_MIB, max_retries=0)
    assert result["error"] == "DicomWebResponseTooLargeError", result
    assert result["growth_mib"] < ALLOWED_GROWTH_MIB, f"peak RSS grew {result['growth_mib']:.0f} MiB"

"""The streaming JSON array reader under QIDO-RS: the same answer as json.loads for any array of objects
cut anywhere, clear errors for anything else, no recursion error, and linear time on a huge element."""

import itertools
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_dicomweb.core.errors import DicomWebResponseError
from airflow_dicomweb.core.qido.json_stream import iter_json_array

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
OBJECTS = st.lists(st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=5), max_size=8)


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


@settings(max_examples=300, deadline=None)
@given(OBJECTS, st.sampled_from(["", " ", "\n  ", "\t"]), st.lists(st.integers(min_value=0), max_size=12))
def test_any_array_of_objects_cut_anywhere_reads_as_json_loads_does(items, space, cuts):
    text = (
        "["
        + space
        + ("," + space).join(json.dumps(i, ensure_ascii=False) for i in items)
        + space
        + "]"
        + space
    )
    data = text.encode()
    assert list(iter_json_array(chunked(data, cuts), "GET x")) == json.loads(data)
    assert list(iter_json_array([data[i : i + 1] for i in range(len(data))], "GET x")) == json.loads(data)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html>down</html>", "is not JSON; it starts b'<html>down"),
        (b'{"not": "a list"}', "not a JSON array of datasets"),
        (b"[1, 2]", "not a JSON array of datasets"),
        (b'[{"a": 1}', "ends inside the array"),
        (b'[{"a": 1} {"b": 2}]', "expected ',' after element 1"),
        (b'[{"a": 1},]', "element 1 is malformed"),
        (b'[{"a": 1}] trailing', "data after the array"),
        (b'[{"a": "\xff"}]', "not UTF-8"),
        (b"[" + b"[" * 100_000, "malformed"),  # deeper than Python's recursion: a clear error
    ],
)
def test_anything_else_is_a_clear_error_naming_the_response(body, message):
    with pytest.raises(DicomWebResponseError, match=message) as caught:
        list(iter_json_array([body[i : i + 7] for i in range(0, len(body), 7)], "GET http://pacs/studies"))
    assert "GET http://pacs/studies" in str(caught.value)


def test_an_empty_body_is_no_result_and_results_come_before_the_body_ends():
    assert list(iter_json_array([b"", b"  "], "GET x")) == []

    def body():
        yield b'[{"first": 1}, '
        raise AssertionError("read on before the first result was taken")

    assert next(iter_json_array(body(), "GET x")) == {"first": 1}


def test_a_huge_element_in_small_chunks_is_decoded_a_logarithmic_number_of_times(monkeypatch):
    """Work, counted rather than timed: the buffer at least doubles between attempts, so an element of n
    chunks is tried about log2(n) times, not n times (which would re-parse it quadratically)."""
    import airflow_dicomweb.core.qido.json_stream as module

    attempts = []
    real = json.JSONDecoder.raw_decode

    class Counting(json.JSONDecoder):
        def raw_decode(self, s, idx=0):
            attempts.append(len(s) - idx)
            return real(self, s, idx)

    monkeypatch.setattr(module.json, "JSONDecoder", Counting)
    size = 8_000_000
    data = b'[{"v": "' + b"x" * size + b'"}]'
    (item,) = iter_json_array([data[i : i + 4096] for i in range(0, len(data), 4096)], "GET x")
    assert len(item["v"]) == size
    assert len(attempts) <= 12  # 1,954 chunks; log2(8 MB / 64 KiB) is 7
    assert sum(attempts) < 3 * len(data)  # the characters scanned, all attempts together: linear

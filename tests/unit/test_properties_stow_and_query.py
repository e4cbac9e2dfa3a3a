"""Properties (hypothesis) of STOW-RS response parsing, in DICOM JSON and XML as an independent writer (the
Google emulator's) produces them, and of QIDO-RS query strings, round-tripped through the standard query
parser that servers use (urllib's parse_qsl, as the emulator and Python servers do)."""

import string
from urllib.parse import parse_qsl

from hypothesis import given, settings
from hypothesis import strategies as st
from pydicom.datadict import keyword_dict

from airflow_dicomweb.core.qido.query import build_query
from airflow_dicomweb.core.stow.response import parse_stow_response
from tests.emulators.google_emulator import stow_json, stow_xml

UIDS = st.lists(st.integers(min_value=0, max_value=10**12), min_size=2, max_size=8).map(
    lambda parts: ".".join(str(p) for p in parts)
)
DETAILS = st.text(max_size=60).map(lambda t: "".join(c for c in t if c.isprintable()).strip())
INSTANCES = st.lists(st.tuples(UIDS, UIDS), max_size=8, unique_by=lambda t: t[1])


@settings(max_examples=200, deadline=None)
@given(
    referenced=INSTANCES,
    failed=st.lists(
        st.tuples(UIDS, UIDS, st.integers(0, 0xFFFF), DETAILS), max_size=8, unique_by=lambda t: t[1]
    ),
    encoding=st.sampled_from(["json", "xml"]),
)
def test_stow_responses_parse_back_to_what_was_written(referenced, failed, encoding):
    failed = [f for f in failed if f[1] not in {r[1] for r in referenced}]
    url = "https://example.org/dicomWeb/studies/1.2.3"
    if encoding == "json":
        parsed = parse_stow_response(stow_json(url, referenced, failed), "application/dicom+json")
    else:
        parsed = parse_stow_response(stow_xml(url, referenced, failed), "application/dicom+xml")
    assert parsed.retrieve_url == url
    assert {uid: r.sop_class_uid for uid, r in parsed.referenced.items()} == {u: c for c, u in referenced}
    assert {
        uid: (f.sop_class_uid, f.failure_reason, f.failure_detail) for uid, f in parsed.failed.items()
    } == {u: (c, r, d) for c, u, r, d in failed}
    for uid, r in parsed.referenced.items():
        assert r.retrieve_url == f"{url}/instances/{uid}"


KEYWORDS = st.sampled_from(
    sorted(k for k in keyword_dict if k.isidentifier() and not k.startswith("RETIRED"))
)
VALUES = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=300, deadline=None)
@given(
    filters=st.dictionaries(KEYWORDS, VALUES, max_size=5),
    includefield=st.lists(KEYWORDS, max_size=3),
    limit=st.none() | st.integers(0, 50000),
    offset=st.integers(0, 10**6),
    fuzzy=st.booleans(),
)
def test_any_query_round_trips_through_the_servers_parser(filters, includefield, limit, offset, fuzzy):
    query = build_query(filters, includefield or None, fuzzy, limit, offset)
    assert all(c in string.ascii_letters + string.digits + "-._~%*?,=&" for c in query)
    parsed = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    expected = list(filters.items())
    if includefield:
        expected.append(("includefield", ",".join(includefield)))
    if fuzzy:
        expected.append(("fuzzymatching", "true"))
    if limit is not None:
        expected.append(("limit", str(limit)))
    if offset:
        expected.append(("offset", str(offset)))
    assert parsed == expected

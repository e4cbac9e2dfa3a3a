"""No search result is lost to a server's page cap: servers that cap QIDO pages silently (tiny_pacs and
HealthImaging at 10,000, Google at 5,000, Azure at 200) or say so with a ``Warning`` header, through every
caller of the search: the client, the hook, the search operator, the command line, the study-arrival
watcher and the store's pre-check. Against a scriptable server on loopback; the real tiny_pacs is in
test_tiny_pacs.py."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from urllib.parse import parse_qsl

import pydicom
import pytest

from airflow_dicomweb.core.client import DicomWebClient
from airflow_dicomweb.core.errors import DicomWebPaginationError
from tests.connections import FAST_RETRY_EXTRAS, connection_json
from tests.dicom_factory import make_series
from tests.fakes.fake_server import FakeServer

STUDY = "1.2.826.0.1.3680043.10.1532.77"
SERIES = "1.2.826.0.1.3680043.10.1532.77.1"


def instance_results(n: int, series: str = SERIES) -> list[dict]:
    return [
        {
            "0020000D": {"vr": "UI", "Value": [STUDY]},
            "0020000E": {"vr": "UI", "Value": [series]},
            "00080018": {"vr": "UI", "Value": [f"{series}.{i}"]},
        }
        for i in range(n)
    ]


def capped(results: list[dict], cap: int, *, warning: bool = False, ignore_offset: bool = False):
    """A QIDO handler answering at most ``cap`` results a page, with a Warning header if asked, else
    silently; 204 past the end."""

    def handler(request):
        query = dict(parse_qsl(request.query))
        limit = int(query.get("limit", 100))
        offset = 0 if ignore_offset else int(query.get("offset", 0))
        page = results[offset : offset + min(limit or cap, cap)]
        if not page:
            return 204, {}, b""
        headers = {"Content-Type": "application/dicom+json"}
        if warning and offset + len(page) < len(results):
            headers["Warning"] = '299 tiny: "There are more matching results; the page was truncated"'
        return 200, headers, json.dumps(page).encode()

    return handler


def uids(results) -> list[str]:
    return [r["00080018"]["Value"][0] for r in results]


@pytest.mark.parametrize("warning", [False, True], ids=["silent", "with-warning"])
@pytest.mark.parametrize("cap", [10, 200, 5000, 10000])
def test_every_result_comes_past_a_page_cap(cap, warning):
    results = instance_results(2 * cap + 50)
    with FakeServer(capped(results, cap, warning=warning)) as server:
        client = DicomWebClient.from_url(server.url, **FAST_RETRY_EXTRAS)
        found = client.search_for_instances(STUDY, SERIES)
        assert uids(found) == uids(results)
        asked = len(server.requests)
        streamed = list(client.iter_search("instances", study_instance_uid=STUDY))
        assert uids(streamed) == uids(results)
        # a limit is honoured exactly, across the cap
        assert uids(client.search_for_instances(STUDY, limit=cap + 7)) == uids(results)[: cap + 7]
    pages = math.ceil(len(results) / cap)
    assert pages <= asked <= pages + 1  # at most one request more than the pages that hold results


def test_a_short_page_costs_one_request_more_and_no_more():
    results = instance_results(30)
    with FakeServer(capped(results, 10_000)) as server:
        client = DicomWebClient.from_url(server.url, **FAST_RETRY_EXTRAS)
        assert len(client.search_for_instances(STUDY)) == 30
    first, second = server.requests
    assert "offset" not in first.query and "offset=30" in second.query


def test_a_cap_learned_from_the_answers_ends_the_search_without_an_empty_request():
    results = instance_results(25)  # pages of 10, 10, then 5: the third is shorter than the server's cap
    with FakeServer(capped(results, 10)) as server:
        client = DicomWebClient.from_url(server.url, **FAST_RETRY_EXTRAS)
        assert uids(client.search_for_instances(STUDY)) == uids(results)
    assert len(server.requests) == 3


def test_a_server_that_ignores_limit_and_offset_is_read_once_and_never_gives_more_than_asked(caplog):
    """OHIF's static-wado answers every match at once, whatever limit and offset say."""
    results = instance_results(5)

    def handler(request):
        return 200, {"Content-Type": "application/dicom+json"}, json.dumps(results).encode()

    with FakeServer(handler) as server:
        client = DicomWebClient.from_url(server.url, **FAST_RETRY_EXTRAS)
        assert uids(client.search_for_instances(STUDY)) == uids(results)
        assert len(server.requests) == 2  # the answer, then the same again: it ignores offset
        assert uids(client.search_for_instances(STUDY, limit=2)) == uids(results)[:2]
    assert "ignores 'offset', so its first answer (5 results" in caplog.text


def test_a_search_that_cannot_be_completed_is_an_error_naming_what_was_seen():
    """A full page, then the same page again: more results exist and cannot be had."""
    results = instance_results(50)
    with FakeServer(capped(results, 20, ignore_offset=True)) as server:
        client = DicomWebClient.from_url(server.url, **FAST_RETRY_EXTRAS)
        with pytest.raises(DicomWebPaginationError, match="20 results were seen, and more may exist"):
            list(client.iter_search("instances", page_size=20))


def test_the_hook_and_the_search_operator_get_every_result(tmp_path, monkeypatch, airflow_db):
    from airflow_dicomweb.hooks.dicomweb import DicomWebHook
    from airflow_dicomweb.operators.search import DicomWebSearchOperator

    results = instance_results(37)
    with FakeServer(capped(results, 10)) as server:
        monkeypatch.setenv("AIRFLOW_CONN_CAPPED", connection_json(server.url, extra=FAST_RETRY_EXTRAS))
        hook = DicomWebHook("capped")
        assert uids(hook.search_for_instances(STUDY, SERIES)) == uids(results)
        kept = DicomWebSearchOperator(
            task_id="search", dicomweb_conn_id="capped", level="instances", study_instance_uid=STUDY
        ).execute({})
        assert uids(kept) == uids(results)
        out = tmp_path / "found.json"
        written = DicomWebSearchOperator(
            task_id="search_out",
            dicomweb_conn_id="capped",
            level="instances",
            study_instance_uid=STUDY,
            output_path=str(out),
        ).execute({})
    assert str(out) in str(written)
    assert uids(json.loads(out.read_text())) == uids(results)


def test_the_command_line_prints_every_result():
    results = instance_results(123)
    with FakeServer(capped(results, 50)) as server:
        done = subprocess.run(
            [sys.executable, "-m", "airflow_dicomweb.cli", server.url, "search", "instances", "--ndjson"],
            capture_output=True,
            text=True,
            timeout=120,
            env={k: v for k, v in os.environ.items() if not k.startswith("DICOMWEB_")},
        )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [json.loads(line)["00080018"]["Value"][0] for line in lines] == uids(results)


def test_the_study_arrival_watcher_announces_every_study_past_the_cap():
    import datetime as dt

    from airflow_dicomweb.core.arrivals.search import ArrivalCursor, poll_new_studies

    studies = [
        {
            "0020000D": {"vr": "UI", "Value": [f"1.2.826.0.1.3680043.10.1532.9.{i}"]},
            "00080020": {"vr": "DA", "Value": ["20991231"]},
        }
        for i in range(45)
    ]
    with FakeServer(capped(studies, 10)) as server:
        client = DicomWebClient.from_url(server.url, **FAST_RETRY_EXTRAS)
        announced, cursor = poll_new_studies(
            client,
            ArrivalCursor(),
            now=dt.datetime.now(dt.UTC),
            lookback_days=None,
            announce_existing=True,
            settle_seconds=0,
        )
    assert len(cursor.seen) == 45
    assert sorted(a["StudyInstanceUID"] for a in announced) == sorted(
        s["0020000D"]["Value"][0] for s in studies
    )


def test_the_store_pre_check_sees_every_instance_the_server_holds(tmp_path):
    files = make_series(tmp_path, 25, rows=4, columns=4)
    first = pydicom.dcmread(files[0], stop_before_pixels=True)
    held = [
        {
            "0020000D": {"vr": "UI", "Value": [first.StudyInstanceUID]},
            "0020000E": {"vr": "UI", "Value": [first.SeriesInstanceUID]},
            "00080018": {"vr": "UI", "Value": [pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID]},
        }
        for f in files
    ]
    search = capped(held, 10)

    def handler(request):
        if request.method == "POST":
            return 500, {}, b"nothing should be sent: the server holds every instance"
        return search(request)

    with FakeServer(handler) as server:
        result = DicomWebClient.from_url(server.url, **FAST_RETRY_EXTRAS).store_instances(files)
    assert len(result.already_present) == 25 and not result.stored and not result.failed
    assert all(r.method == "GET" for r in server.requests)

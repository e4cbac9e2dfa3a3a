"""Study complete, not study seen: a study stored in bursts is announced once, after its last instance plus
``settle_seconds``, with every instance counted; a series arriving later is announced as an update. Against
a real Orthanc, for the search source and Orthanc's ``/changes`` (whose ``StableStudy`` comes ``StableAge``
= 2 s after a study's last instance, tests/servers/orthanc_server.py). The clock of the core polls is set by
the test; the trigger's is the real one."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time

import pytest
from pydicom.uid import generate_uid

from airflow_dicomweb.core.arrivals.orthanc_changes import OrthancChangesCursor, poll_orthanc_changes
from airflow_dicomweb.core.arrivals.search import ArrivalCursor, poll_new_studies
from airflow_dicomweb.core.change_feed.orthanc import OrthancChanges
from airflow_dicomweb.core.client import DicomWebClient
from airflow_dicomweb.triggers.study_arrival import DicomWebStudyArrivalTrigger
from tests.dicom_factory import make_series
from tests.fakes.fake_server import FakeServer
from tests.integration.test_study_arrivals import MemoryStateStore

START = dt.datetime.now(dt.UTC)
TODAY = START.strftime("%Y%m%d")


def at(seconds: float) -> dt.datetime:
    return START + dt.timedelta(seconds=seconds)


@pytest.fixture
def client(clean_orthanc):
    with DicomWebClient.from_url(
        clean_orthanc.dicomweb_url, login=clean_orthanc.username, password=clean_orthanc.password
    ) as c:
        yield c


@pytest.fixture
def burst(client, tmp_path):
    def store(study: str, count: int, **kwargs) -> None:
        files = make_series(tmp_path / generate_uid(), count, study_uid=study, rows=8, columns=8, **kwargs)
        assert client.store_instances(files).ok

    return store


def seen(events):
    return [(e["StudyInstanceUID"], e["NumberOfStudyRelatedInstances"], e["update"]) for e in events]


def round_trip(cursor, kind):
    return kind.from_json(json.loads(json.dumps(cursor.to_json())))


def test_search_announces_a_study_stored_in_bursts_once_complete_and_a_later_series_as_an_update(
    client, burst
):
    def poll(cursor, seconds):
        new, after = poll_new_studies(client, cursor, now=at(seconds), settle_seconds=10)
        return seen(new), round_trip(after, ArrivalCursor)

    _, cursor = poll(ArrivalCursor(), 0)
    study = generate_uid()
    burst(study, 2, study_date=TODAY)
    assert poll(cursor, 1)[0] == []
    _, cursor = poll(cursor, 1)
    burst(study, 2, study_date=TODAY)  # the second burst: the count changed, the clock restarts
    new, cursor = poll(cursor, 5)
    assert new == []
    new, cursor = poll(cursor, 14)  # 9 s after the count last changed
    assert new == []
    burst(study, 2, study_date=TODAY)
    new, cursor = poll(cursor, 15)
    assert new == []
    new, cursor = poll(cursor, 25)
    assert new == [(study, 6, False)]  # once, every instance counted
    new, cursor = poll(cursor, 100)
    assert new == []  # unchanged: never announced twice
    burst(study, 1, study_date=TODAY)  # a series arriving later
    new, cursor = poll(cursor, 101)
    assert new == []
    new, cursor = poll(cursor, 111)
    assert new == [(study, 7, True)]


def test_settle_seconds_zero_announces_at_first_sight(client, burst):
    _, cursor = poll_new_studies(client, ArrivalCursor(), now=at(0), settle_seconds=0)
    study = generate_uid()
    burst(study, 1, study_date=TODAY)
    new, _ = poll_new_studies(client, cursor, now=at(0), settle_seconds=0)
    assert seen(new) == [(study, 1, False)]


def test_orthanc_changes_waits_for_the_settle_time_and_for_stable_study_and_has_no_date_window(client, burst):
    changes = OrthancChanges(client.transport)

    def poll(cursor, seconds):
        new, after = poll_orthanc_changes(changes, client, cursor, now=at(seconds), settle_seconds=5)
        return seen(new), round_trip(after, OrthancChangesCursor)

    _, cursor = poll(OrthancChangesCursor(), 0)
    assert cursor.started
    prior = generate_uid()
    burst(prior, 2, study_date="19990101")  # a prior dated 1999, stored today
    new, cursor = poll(cursor, 1)
    assert new == []
    burst(prior, 3, study_date="19990101")
    new, cursor = poll(cursor, 2)
    assert new == [] and cursor.ledger.studies[prior].count == 5
    new, cursor = poll(cursor, 30)  # settled by our clock, but Orthanc has not called it stable yet
    assert new == [] and not cursor.ledger.studies[prior].stable
    time.sleep(3.5)  # StableAge is 2 s: Orthanc logs StableStudy
    new, cursor = poll(cursor, 31)
    assert new == [(prior, 5, False)]
    new, cursor = poll(cursor, 200)
    assert new == []
    burst(prior, 1, study_date="19990101", modality="SR")
    time.sleep(3.5)
    new, cursor = poll(cursor, 201)  # stable, but 1 s after the instance was read (at 201)
    assert new == []
    new, cursor = poll(cursor, 206)
    assert new == [(prior, 6, True)]


def test_orthanc_changes_filters_and_announce_existing(client, burst):
    ct, mr = generate_uid(), generate_uid()
    burst(ct, 1, modality="CT")
    burst(mr, 1, modality="MR")
    changes = OrthancChanges(client.transport)
    new, _ = poll_orthanc_changes(
        changes,
        client,
        OrthancChangesCursor(),
        now=at(0),
        settle_seconds=0,
        announce_existing=True,
        filters={"ModalitiesInStudy": "CT"},
    )
    assert seen(new) == [(ct, 1, False)]


def _changes_server(changes: list, studies: dict[str, object]):
    """A server whose /changes answers ``changes`` and whose /instances/ID/study answers ``studies``."""

    def answer(request):
        if request.path == "/changes":
            return (
                200,
                {"Content-Type": "application/json"},
                json.dumps({"Changes": changes, "Done": True, "Last": 99}).encode(),
            )
        if request.path.startswith("/instances/") and request.path.endswith("/study"):
            body = studies.get(request.path.split("/")[2])
            if body is None:
                return 404, {}, b"{}"
            return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()
        return 404, {}, b""

    return FakeServer(answer)


def test_a_malformed_change_is_named_in_the_log_and_skipped(caplog):
    good = "aaaaaaaa-bbbbbbbb-cccccccc-dddddddd-eeeeeeee"
    bad_uid = "aaaaaaaa-bbbbbbbb-cccccccc-dddddddd-ffffffff"
    gone = "aaaaaaaa-bbbbbbbb-cccccccc-dddddddd-00000000"
    changes = [
        {"Seq": "one", "ChangeType": "NewInstance", "ID": good},
        {"Seq": 2, "ChangeType": "NewInstance", "ID": "../../etc/passwd"},
        {"Seq": 3, "ChangeType": "NewInstance", "ID": bad_uid},
        {"Seq": 4, "ChangeType": "NewInstance", "ID": gone},
        "not a change",
        {"Seq": 6, "ChangeType": "NewInstance", "ID": good},
        {"Seq": 7, "ChangeType": "Deleted", "ID": good},
    ]
    studies = {
        good: {"MainDicomTags": {"StudyInstanceUID": "1.2.3"}},
        bad_uid: {"MainDicomTags": {"StudyInstanceUID": "1.2.3/../../x"}},
    }
    with _changes_server(changes, studies) as server:
        with DicomWebClient.from_url(server.url + "/dicom-web", max_retries=0) as c:
            read = list(OrthancChanges(c.transport).changes(0, 100))
            assert [(ch.seq, ch.resource_id) for ch in read] == [(3, bad_uid), (4, gone), (6, good)]
            uids = [OrthancChanges(c.transport).study_instance_uid(ch) for ch in read]
    assert uids == [None, None, "1.2.3"]
    log = caplog.text
    assert "no new sequence number" in log and "not an Orthanc ID" in log
    assert "no valid StudyInstanceUID" in log and "deleted before it was read" in log


async def collect_events(trigger, seconds: float) -> list[dict]:
    events = []
    agen = trigger.run()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    try:
        while True:
            try:
                event = await asyncio.wait_for(agen.__anext__(), max(0.01, deadline - loop.time()))
            except TimeoutError:
                break
            events.append({**event.payload, "_at": time.monotonic()})
    finally:
        await agen.aclose()
    return events


@pytest.mark.parametrize("source", ["search", "orthanc-changes"])
def test_the_trigger_announces_a_study_stored_in_three_bursts_once_complete(orthanc_conn_id, burst, source):
    store = MemoryStateStore()
    study = generate_uid()
    stored_at: list[float] = []

    async def scenario():
        trigger = DicomWebStudyArrivalTrigger(
            dicomweb_conn_id=orthanc_conn_id, poll_interval=0.2, settle_seconds=3, source=source
        )
        trigger.asset_state_store = store
        task = asyncio.create_task(collect_events(trigger, seconds=14))
        while store.writes < 1:  # the baseline
            await asyncio.sleep(0.05)
        for _ in range(3):  # three bursts, a second apart
            await asyncio.to_thread(burst, study, 2, study_date=TODAY)
            stored_at.append(time.monotonic())
            await asyncio.sleep(1)
        events = await task
        return events

    events = asyncio.run(scenario())
    assert [(e["StudyInstanceUID"], e["NumberOfStudyRelatedInstances"], e["update"]) for e in events] == [
        (study, 6, False)
    ]
    assert events[0]["study_instance_uid"] == study and "StudyDate" in events[0]
    assert events[0]["_at"] - stored_at[-1] >= 3  # not before the last instance plus settle_seconds

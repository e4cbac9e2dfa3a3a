"""The study-arrival watcher against a real Orthanc: the core poll, and the trigger with a state store."""

import asyncio
import datetime as dt

import pytest
from pydicom.uid import generate_uid

from airflow_dicomweb.core.arrivals.search import ArrivalCursor, poll_new_studies
from airflow_dicomweb.triggers.study_arrival import DicomWebStudyArrivalTrigger
from tests.dicom_factory import make_series

NOW = dt.datetime.now(dt.UTC)
TODAY = NOW.date()


def today(days_ago: int = 0) -> str:
    return (TODAY - dt.timedelta(days=days_ago)).strftime("%Y%m%d")


@pytest.fixture
def store_study(hook, tmp_path):
    def store(study_date: str, **kwargs) -> str:
        uid = generate_uid()
        files = make_series(tmp_path / uid, 1, study_uid=uid, study_date=study_date, **kwargs)
        assert hook.store_instances(files).ok
        return uid

    return store


class MemoryStateStore:
    """The asset state store's async accessors, kept in a dict; values round-trip through JSON as in
    Airflow's database."""

    def __init__(self):
        self.values = {}
        self.writes = 0

    async def aget(self, key, default=None):
        import json

        return json.loads(self.values[key]) if key in self.values else default

    async def aset(self, key, value):
        import json

        self.values[key] = json.dumps(value)
        self.writes += 1


def test_a_poll_takes_a_baseline_then_announces_each_new_study_once(hook, store_study):
    before = store_study(today())
    new, cursor = poll_new_studies(hook, ArrivalCursor(), now=NOW, settle_seconds=0)
    assert new == [] and cursor.started and before in cursor.seen

    first = store_study(today(1), attributes={"AccessionNumber": "ACC1", "StudyDescription": "chest"})
    second = store_study(today())
    too_old = store_study(today(5))
    new, cursor = poll_new_studies(hook, cursor, now=NOW, settle_seconds=0)
    assert [s["StudyInstanceUID"] for s in new] == [first, second]  # oldest StudyDate first
    assert new[0]["AccessionNumber"] == "ACC1" and new[0]["StudyDate"] == today(1)
    assert "PatientID" not in new[0] and "PatientName" not in new[0]  # no patient identifiers by default
    assert too_old not in cursor.seen

    again, cursor = poll_new_studies(
        hook, ArrivalCursor.from_json(cursor.to_json()), now=NOW, settle_seconds=0
    )
    assert again == []
    # a day later the window has moved: yesterday's study leaves the cursor, today's stays
    _, later = poll_new_studies(hook, cursor, now=NOW + dt.timedelta(days=1), settle_seconds=0)
    assert first not in later.seen and second in later.seen
    # no window: every study is listed, the old one is new
    new, _ = poll_new_studies(hook, cursor, now=NOW, settle_seconds=0, lookback_days=None)
    assert [s["StudyInstanceUID"] for s in new] == [too_old]


def test_filters_announce_existing_pages_and_bad_input(hook, store_study):
    ct = store_study(today(), modality="CT")
    mr = store_study(today(), modality="MR")
    new, _ = poll_new_studies(
        hook,
        ArrivalCursor(),
        now=NOW,
        settle_seconds=0,
        announce_existing=True,
        filters={"ModalitiesInStudy": "CT"},
    )
    assert [s["StudyInstanceUID"] for s in new] == [ct]
    new, _ = poll_new_studies(
        hook, ArrivalCursor(), now=NOW, settle_seconds=0, announce_existing=True, page_size=1
    )
    assert {s["StudyInstanceUID"] for s in new} == {ct, mr}
    with pytest.raises(ValueError, match="StudyDate filter is the watcher's window"):
        poll_new_studies(hook, ArrivalCursor(), now=NOW, settle_seconds=0, filters={"StudyDate": "2024"})
    with pytest.raises(ValueError, match="not a study-arrival cursor"):
        ArrivalCursor.from_json({"seen": []})


async def collect(trigger, count=None, seconds=30.0):
    """The trigger's events until ``count`` arrived or ``seconds`` passed; then the trigger is stopped."""
    events = []
    agen = trigger.run()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    try:
        while count is None or len(events) < count:
            try:
                event = await asyncio.wait_for(agen.__anext__(), max(0.01, deadline - loop.time()))
            except TimeoutError:
                break
            events.append(event.payload["study_instance_uid"])
    finally:
        await agen.aclose()
    return events


def watcher(conn_id, store, **kwargs):
    kwargs = {"poll_interval": 0.2, "settle_seconds": 0, **kwargs}
    trigger = DicomWebStudyArrivalTrigger(dicomweb_conn_id=conn_id, **kwargs)
    trigger.asset_state_store = store
    return trigger


async def wait_for_writes(store, count):
    while store.writes < count:
        await asyncio.sleep(0.05)


def test_a_restart_announces_what_arrived_while_down_and_nothing_again(orthanc_conn_id, store_study):
    store = MemoryStateStore()
    store_study(today())  # already there: the baseline

    async def scenario():
        first = asyncio.create_task(collect(watcher(orthanc_conn_id, store), count=2, seconds=6))
        await asyncio.wait_for(wait_for_writes(store, 1), 20)  # the baseline is kept
        arrived = await asyncio.to_thread(store_study, today())
        await asyncio.wait_for(wait_for_writes(store, 3), 20)  # announced, then kept at the next poll
        first.cancel()
        while_down = await asyncio.to_thread(store_study, today())
        return arrived, while_down, await collect(watcher(orthanc_conn_id, store), seconds=3)

    _arrived, while_down, after_restart = asyncio.run(scenario())
    assert after_restart == [while_down]


def test_a_triggerer_killed_before_keeping_its_cursor_announces_again_but_loses_nothing(
    orthanc_conn_id, store_study
):
    store = MemoryStateStore()
    store_study(today())

    async def scenario():
        first = asyncio.create_task(collect(watcher(orthanc_conn_id, store), count=1))
        await asyncio.wait_for(wait_for_writes(store, 1), 20)
        arrived = await asyncio.to_thread(store_study, today())
        announced = await first  # stopped at once after its event: its cursor was not kept
        while_down = await asyncio.to_thread(store_study, today())
        return arrived, announced, while_down, await collect(watcher(orthanc_conn_id, store), seconds=3)

    arrived, announced, while_down, after_restart = asyncio.run(scenario())
    assert announced == [arrived]
    assert sorted(after_restart) == sorted([arrived, while_down])  # at least once


def test_without_a_state_store_the_cursor_lives_in_memory(orthanc_conn_id, store_study):
    store_study(today())

    async def scenario():
        trigger = DicomWebStudyArrivalTrigger(
            dicomweb_conn_id=orthanc_conn_id, poll_interval=0.2, settle_seconds=0
        )
        task = asyncio.create_task(collect(trigger, count=1))
        await asyncio.sleep(1.5)
        arrived = await asyncio.to_thread(store_study, today())
        return arrived, await task

    arrived, events = asyncio.run(scenario())
    assert events == [arrived]


def test_a_failing_server_is_logged_and_polled_again(monkeypatch, capsys):
    monkeypatch.setenv(
        "AIRFLOW_CONN_DICOMWEB_DOWN",
        '{"conn_type": "dicomweb", "host": "http://127.0.0.1:9/dicom-web", "extra": {"max_retries": 0}}',
    )
    trigger = DicomWebStudyArrivalTrigger(dicomweb_conn_id="dicomweb_down", poll_interval=0.2)
    assert asyncio.run(collect(trigger, seconds=3)) == []
    assert capsys.readouterr().out.count("study-arrival poll failed") >= 2


def test_the_trigger_serializes_and_checks_its_arguments():
    trigger = DicomWebStudyArrivalTrigger(
        dicomweb_conn_id="x", filters={"ModalitiesInStudy": "CT"}, poll_interval=5, lookback_days=3
    )
    path, kwargs = trigger.serialize()
    assert path == "airflow_dicomweb.triggers.study_arrival.DicomWebStudyArrivalTrigger"
    again = DicomWebStudyArrivalTrigger(**kwargs)
    assert again.serialize() == (path, kwargs) and again.cursor_key == trigger.cursor_key
    assert DicomWebStudyArrivalTrigger(dicomweb_conn_id="y").cursor_key != trigger.cursor_key
    with pytest.raises(ValueError, match="poll_interval"):
        DicomWebStudyArrivalTrigger(poll_interval=0)


def test_a_hostile_answer_is_cut_before_it_reaches_an_event():
    from airflow_dicomweb.core.arrivals.event import MAX_TEXT, MAX_VALUES, summarize

    item = {
        "0020000D": {"vr": "UI", "Value": ["1.2.3"]},
        "00081030": {"vr": "LO", "Value": ["x" * 5_000_000]},
        "00080061": {"vr": "CS", "Value": ["CT"] * 10_000},
        "00080050": {"vr": "SH", "Value": [{"nested": "object"}]},
    }
    summary = summarize(
        item, ["StudyInstanceUID", "StudyDescription", "ModalitiesInStudy", "AccessionNumber"]
    )
    assert len(summary["StudyDescription"]) == MAX_TEXT and len(summary["ModalitiesInStudy"]) == MAX_VALUES
    assert "AccessionNumber" not in summary

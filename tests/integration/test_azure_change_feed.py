"""Azure beyond DICOMweb, against the emulator of its v2 API (tests/emulators/azure_emulator.py, data in the real
Orthanc, tokens from azure-identity): study arrivals read from the change feed, exactly, and operations
polled at ``/operations/{id}`` by the client, the operation trigger and the command line."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time

import pytest
from pydicom.uid import generate_uid

from airflow_dicomweb.cli.main import main as cli_main
from airflow_dicomweb.core.arrivals.change_feed import ChangeFeedCursor, poll_change_feed
from airflow_dicomweb.core.change_feed.azure import ChangeFeed
from airflow_dicomweb.core.errors import DicomWebOperationError
from airflow_dicomweb.core.operations.state import operation_counter
from airflow_dicomweb.triggers.operation import DicomWebOperationTrigger
from airflow_dicomweb.triggers.study_arrival import DicomWebStudyArrivalTrigger
from tests.connections import FAST_RETRY_EXTRAS, connection_json
from tests.dicom_factory import make_series
from tests.emulators.azure_emulator import AzureEmulator
from tests.integration.test_azure import client_for


@pytest.fixture
def azure(clean_orthanc, monkeypatch, tmp_path):
    for name in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_FEDERATED_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    with AzureEmulator(clean_orthanc, blob_root=tmp_path / "blob") as emulator:
        for name, value in emulator.environment.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv(
            "AIRFLOW_CONN_DICOMWEB_AZURE",
            connection_json(
                emulator.dicom.dicomweb_url,
                extra={**FAST_RETRY_EXTRAS, "auth_type": "azure", "server": "azure"},
            ),
        )
        yield emulator


@pytest.fixture
def store_study(azure, tmp_path):
    def store(count: int = 1, study: str | None = None, **kwargs) -> str:
        study = study or generate_uid()
        files = make_series(tmp_path / generate_uid(), count, study_uid=study, rows=8, columns=8, **kwargs)
        with client_for(azure) as client:
            assert client.store_instances(files).ok
        return study

    return store


def poll(azure, cursor, **kwargs):
    with client_for(azure) as client:
        kwargs = {"now": dt.datetime.now(dt.UTC), "settle_seconds": 0, **kwargs}
        new, after = poll_change_feed(ChangeFeed(client.transport), client, cursor, **kwargs)
    # the cursor is stored as JSON between polls
    return [s["StudyInstanceUID"] for s in new], ChangeFeedCursor.from_json(
        json.loads(json.dumps(after.to_json()))
    )


def test_each_study_is_announced_once_whatever_its_study_date(azure, store_study):
    before = store_study()
    new, cursor = poll(azure, ChangeFeedCursor())
    assert new == [] and cursor.started  # the baseline: the newest entry
    old_prior = store_study(3, study_date="19990101")  # a prior, which no StudyDate window would see
    fresh = store_study(2)
    new, cursor = poll(azure, cursor)
    assert new == [old_prior, fresh]  # in the order they arrived
    store_study(2, study=fresh)  # more of a study already announced: announced again, as an update
    with client_for(azure) as client:
        grown, cursor = poll_change_feed(
            ChangeFeed(client.transport), client, cursor, now=dt.datetime.now(dt.UTC), settle_seconds=0
        )
    assert [(s["StudyInstanceUID"], s["NumberOfStudyRelatedInstances"], s["update"]) for s in grown] == [
        (fresh, 4, True)
    ]
    assert set(cursor.ledger.studies) == {old_prior, fresh}
    new, cursor = poll(azure, cursor)
    assert new == []  # unchanged: not announced twice
    everything, _ = poll(azure, ChangeFeedCursor(), announce_existing=True)
    assert everything == [before, old_prior, fresh]


def test_filters_are_judged_by_a_search_and_a_study_deleted_before_the_poll_is_not_announced(
    azure, store_study
):
    _, cursor = poll(azure, ChangeFeedCursor())
    mr = store_study(modality="MR")
    gone = store_study(modality="CT")
    with client_for(azure) as client:
        client.delete_study(gone)  # Azure deletes at once: the feed has its create and delete entries
    new, cursor = poll(azure, cursor, filters={"ModalitiesInStudy": "CT"})
    assert new == [] and cursor.ledger.studies[mr].announced is None  # judged: it does not match
    store_study(study=mr, modality="CT")  # now the study has a CT series: judged again, announced
    new, cursor = poll(azure, cursor, filters={"ModalitiesInStudy": "CT"})
    assert new == [mr]
    actions = [e["Action"] for e in azure.feed]
    assert actions.count("delete") == 1 and actions.count("create") == 3


def test_a_poll_reads_at_most_its_share_and_the_next_goes_on(azure, store_study):
    _, cursor = poll(azure, ChangeFeedCursor())
    studies = [store_study() for _ in range(5)]
    seen = []
    for _ in range(5):
        new, cursor = poll(azure, cursor, max_entries=2)
        seen += new
    assert seen == studies
    pages = [r.query for r in azure.dicom.requests if r.path.endswith("/changefeed")]
    assert all("limit=2" in q or "limit=1" in q for q in pages[-5:])


def test_a_hostile_feed_entry_is_named_in_the_log_and_skipped(azure, store_study, caplog):
    _, cursor = poll(azure, ChangeFeedCursor())
    store_study()
    azure.feed[-1]["StudyInstanceUid"] = "../../etc"
    after = store_study()
    new, cursor = poll(azure, cursor)
    assert new == [after]  # the entries after the bad one are read
    assert any("changefeed" in r.getMessage() and "invalid UID" in r.getMessage() for r in caplog.records)


def test_the_trigger_reads_the_change_feed_with_server_azure(azure, store_study):
    from tests.integration.test_study_arrivals import MemoryStateStore, collect, wait_for_writes

    store = MemoryStateStore()
    store_study()

    async def scenario():
        trigger = DicomWebStudyArrivalTrigger(
            dicomweb_conn_id="dicomweb_azure", poll_interval=0.2, settle_seconds=0
        )
        trigger.asset_state_store = store
        task = asyncio.create_task(collect(trigger, count=1, seconds=20))
        await asyncio.wait_for(wait_for_writes(store, 1), 20)  # the baseline
        arrived = await asyncio.to_thread(store_study, 1, None, study_date="19990101")
        return arrived, await task

    arrived, events = asyncio.run(scenario())
    assert events == [arrived]
    (stored,) = [json.loads(v) for v in store.values.values()]
    assert stored["kind"] == "change-feed"
    assert not any(
        r.path.endswith("/studies") and r.method == "GET" and "StudyDate=" in r.query
        for r in azure.dicom.requests
    )


def start_export(azure, client, identifiers, container="export"):
    reply = client.transport.request(
        "POST",
        client.transport.url("export"),
        headers={"Content-Type": "application/json"},
        data=json.dumps(
            {
                "source": {"type": "identifiers", "settings": {"values": identifiers}},
                "destination": {
                    "type": "azureblob",
                    "settings": {"blobContainerUri": f"https://account.blob.core.windows.net/{container}"},
                },
            }
        ).encode(),
        ok=(202,),
    )
    return reply.json()


def test_an_export_operation_is_polled_until_it_is_over(azure, store_study, tmp_path):
    study = store_study(4)
    with client_for(azure) as client:
        reference = start_export(azure, client, [study])
        assert client.get_operation(reference["id"])["status"] in ("notStarted", "running")
        done = client.wait_for_operation(reference, poll_interval=0.05, max_poll_interval=0.1)
        assert done["status"] == "completed" and operation_counter(done) == {
            "success": 4,
            "failure": 0,
            "pending": 0,
        }
        exported = sorted((tmp_path / "blob" / "export" / reference["id"]).rglob("*.dcm"))
        assert len(exported) == 4
        stored = {azure.orthanc.instance_bytes(p.stem) for p in exported}
        assert stored == {p.read_bytes() for p in exported}
        failing = start_export(azure, client, ["1.2.3.4.5.6"])
        with pytest.raises(
            DicomWebOperationError, match=r"operations/\w+ failed: 1\.2\.3\.4\.5\.6: not found"
        ):
            client.wait_for_operation(failing["href"], poll_interval=0.05, max_poll_interval=0.1)


def test_the_operation_trigger_and_the_command_line_poll_azure_operations(azure, store_study, capsys):
    study = store_study(3)
    with client_for(azure) as client:
        reference = start_export(azure, client, [study])

    async def run_trigger():
        trigger = DicomWebOperationTrigger(reference["id"], "dicomweb_azure", 0.05, 30.0)
        async for event in trigger.run():
            return event.payload

    payload = asyncio.run(run_trigger())
    assert payload["status"] == "success" and payload["counter"]["success"] == 3
    with client_for(azure) as client:
        failing = start_export(azure, client, ["1.2.3.4.5.6"])

    async def run_failing():
        trigger = DicomWebOperationTrigger(failing["id"], "dicomweb_azure", 0.05, 30.0)
        async for event in trigger.run():
            return event.payload

    failed = asyncio.run(run_failing())
    assert failed["status"] == "error" and "1.2.3.4.5.6: not found" in failed["message"]
    code = cli_main(["--conn-id", "dicomweb_azure", "operation", reference["id"], "--wait", "--poll", "0.05"])
    assert code == 0
    assert f"operations/{reference['id']}: succeeded" in capsys.readouterr().err


def test_a_study_in_bursts_is_announced_once_settled_on_the_feed_s_timestamps(azure, store_study):
    def poll_settling(cursor):
        with client_for(azure) as client:
            new, after = poll_change_feed(
                ChangeFeed(client.transport), client, cursor, now=dt.datetime.now(dt.UTC), settle_seconds=2
            )
        return [(s["StudyInstanceUID"], s["NumberOfStudyRelatedInstances"], s["update"]) for s in new], after

    _, cursor = poll(azure, ChangeFeedCursor())
    study = generate_uid()
    for _ in range(3):
        store_study(2, study=study)
        new, cursor = poll_settling(cursor)
        assert new == []
        time.sleep(0.8)
    time.sleep(1.5)
    new, cursor = poll_settling(cursor)
    assert new == [(study, 6, False)]
    new, cursor = poll_settling(cursor)
    assert new == []

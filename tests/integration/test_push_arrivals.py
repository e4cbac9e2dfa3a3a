"""Push sources of study arrivals, through the clouds' own client libraries: Azure's Event Grid events in a
Storage queue (azure-storage-queue against Azurite, the events written by the Azure emulator as a
subscription delivers them), and a Google DICOM store's Pub/Sub notifications (google-cloud-pubsub's REST
transport against a fake of the pull API, tests/emulators/pubsub_emulator.py: no Pub/Sub emulator installs
from a registry here). A study stored in bursts is announced once complete;
messages are acknowledged only after the event that covers them was handed over; bad messages are logged,
skipped and acknowledged; a restart announces a settling study once and an announced one never again."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time

import pytest
from pydicom.uid import generate_uid

from airflow_dicomweb.core import defaults
from airflow_dicomweb.core.arrivals.source import WatchOptions
from airflow_dicomweb.core.arrivals.watch import poll_once
from airflow_dicomweb.triggers.study_arrival import DicomWebStudyArrivalTrigger
from tests.connections import FAST_RETRY_EXTRAS, connection_json, google_connection
from tests.dicom_factory import make_series
from tests.emulators.azure_emulator import AzureEmulator
from tests.integration.test_azure import client_for
from tests.integration.test_study_arrivals import MemoryStateStore
from tests.servers.azurite_server import ACCOUNT_KEY, AzuriteMissing, AzuriteQueues

SOURCE = "azure-event-grid"


@pytest.fixture(scope="session")
def azurite():
    """Azurite's queue service. Missing Azurite fails the suite: it never skips."""
    try:
        server = AzuriteQueues()
    except AzuriteMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def azure(clean_orthanc, azurite, monkeypatch, tmp_path):
    from azure.storage.queue import QueueClient

    for name in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_FEDERATED_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    name = f"dicom-events-{generate_uid()[-12:].replace('.', '')}"
    queue = QueueClient.from_connection_string(azurite.connection_string, name)
    queue.create_queue()
    with AzureEmulator(clean_orthanc, blob_root=tmp_path / "blob") as emulator:
        emulator.event_queue = queue
        for key, value in emulator.environment.items():
            monkeypatch.setenv(key, value)
        extra = {
            **FAST_RETRY_EXTRAS,
            "auth_type": "azure",
            "server": "azure",
            "event_grid_queue_url": f"{azurite.url}/{name}",
            "event_grid_queue_key": ACCOUNT_KEY,
        }
        monkeypatch.setenv(
            "AIRFLOW_CONN_DICOMWEB_AZURE", connection_json(emulator.dicom.dicomweb_url, extra=extra)
        )
        emulator.queue = queue
        emulator.queue_extras = {k: extra[k] for k in ("event_grid_queue_url", "event_grid_queue_key")}
        yield emulator
    queue.delete_queue()
    queue.close()


@pytest.fixture
def burst(azure, tmp_path):
    def store(study: str, count: int) -> None:
        files = make_series(tmp_path / generate_uid(), count, study_uid=study, rows=8, columns=8)
        with client_for(azure) as client:
            assert client.store_instances(files).ok

    return store


def in_queue(azure) -> int:
    """Messages in the queue, visible or held (Azure's approximate count, exact on Azurite)."""
    return azure.queue.get_queue_properties().approximate_message_count


def poll(azure, cursor, settle=3.0, now=None):
    with client_for(azure, **azure.queue_extras) as client:
        options = WatchOptions(settle_seconds=settle)
        return poll_once(client, SOURCE, options, cursor, now)


def seen(events):
    return [(e["StudyInstanceUID"], e["NumberOfStudyRelatedInstances"], e["update"]) for e in events]


def test_a_study_in_bursts_is_announced_once_complete_and_its_messages_then_deleted(azure, burst):
    first = poll(azure, None)
    assert (
        first.announcements == []
        and "reading azure-event-grid events from http://127.0.0.1" in first.baseline
    )
    cursor = first.cursor
    study = generate_uid()
    for _ in range(3):
        burst(study, 2)
        result = poll(azure, cursor)
        assert result.announcements == []
        cursor = result.cursor
        time.sleep(1)
    assert in_queue(azure) == 6  # held, not acknowledged
    time.sleep(2.5)
    result = poll(azure, cursor)
    assert seen(result.announcements) == [(study, 6, False)]
    assert in_queue(azure) == 6  # still: the event has not been handed over yet
    result = poll(azure, result.cursor)  # the trigger polls again once it has
    assert result.announcements == [] and in_queue(azure) == 0
    burst(study, 1)  # a series later: an update
    time.sleep(3.2)
    result = poll(azure, result.cursor)
    assert seen(result.announcements) == [(study, 7, True)]


def test_bad_messages_are_named_skipped_and_acknowledged(azure, burst, caplog):
    cursor = poll(azure, None).cursor
    good = generate_uid()
    queue = azure.queue

    def event(**data):
        body = {
            "id": "x",
            "eventType": "Microsoft.HealthcareApis.DicomImageCreated",
            "eventTime": "2026-01-01T00:00:00Z",
            "data": {"serviceHostName": azure.host, "imageStudyInstanceUid": "1.2.3", **data},
        }
        return base64.b64encode(json.dumps(body).encode()).decode()

    queue.send_message("this is not an event")
    queue.send_message(base64.b64encode(b"[1, 2]").decode())
    queue.send_message(event(serviceHostName="other-workspace.dicom.azurehealthcareapis.com"))
    queue.send_message(event(imageStudyInstanceUid="1.2.3/../../etc"))
    queue.send_message(json.dumps({"eventType": "Microsoft.HealthcareApis.DicomImageDeleted", "data": {}}))
    burst(good, 1)
    result = poll(azure, cursor, settle=0)
    assert seen(result.announcements) == [(good, 1, False)]
    assert in_queue(azure) == 1  # the good one, until the event is handed over
    result = poll(azure, result.cursor, settle=0)
    assert in_queue(azure) == 0
    log = caplog.text
    assert "neither JSON nor base64 JSON" in log and "not one Event Grid event" in log
    assert "another DICOM service ('other-workspace" in log and "not a UID ('1.2.3/../../etc')" in log


def test_after_a_restart_a_settling_study_is_announced_once_and_an_announced_one_never_again(
    azure, burst, monkeypatch
):
    monkeypatch.setattr(defaults, "PUSH_VISIBILITY_MARGIN", 1)  # held messages come back 7 s after receipt
    cursor = poll(azure, None).cursor
    settling, announced = generate_uid(), generate_uid()
    burst(announced, 2)
    time.sleep(3.2)
    burst(settling, 3)
    result = poll(azure, cursor)
    assert seen(result.announcements) == [(announced, 2, False)]
    # the trigger keeps this cursor once the event is handed over, then is killed before its next poll
    # deletes the announced study's messages; the messages it held are lost with it
    kept = json.loads(json.dumps(result.cursor.to_json()))
    restarted = poll(azure, kept)
    assert restarted.announcements == [] and in_queue(azure) == 5
    deadline = time.monotonic() + 30
    events = []
    cursor = restarted.cursor
    while time.monotonic() < deadline and (not events or in_queue(azure)):
        time.sleep(0.5)
        result = poll(azure, cursor)
        events += result.announcements
        cursor = result.cursor
    assert seen(events) == [(settling, 3, False)]  # once, complete; the other not again
    assert in_queue(azure) == 0


def test_the_trigger_announces_from_the_queue_and_deletes_what_it_handed_over(azure, burst):
    store = MemoryStateStore()
    study = generate_uid()

    async def scenario():
        trigger = DicomWebStudyArrivalTrigger(
            dicomweb_conn_id="dicomweb_azure", poll_interval=0.2, settle_seconds=2, source=SOURCE
        )
        trigger.asset_state_store = store
        agen = trigger.run()
        task = asyncio.ensure_future(agen.__anext__())
        while store.writes < 1:
            await asyncio.sleep(0.05)
        for _ in range(2):
            await asyncio.to_thread(burst, study, 2)
            await asyncio.sleep(0.7)
        event = await asyncio.wait_for(task, 30)
        late = asyncio.ensure_future(agen.__anext__())  # the trigger goes on: the next poll deletes
        deadline = time.monotonic() + 10
        while in_queue(azure) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        late.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await late
        await agen.aclose()
        return event.payload

    payload = asyncio.run(scenario())
    assert (payload["StudyInstanceUID"], payload["NumberOfStudyRelatedInstances"]) == (study, 4)
    assert in_queue(azure) == 0
    saved = json.loads(next(iter(store.values.values())))
    assert saved["kind"] == SOURCE and saved["ledger"][study][3] == 4  # kept as announced with 4


# --- Google: a DICOM store's Pub/Sub notifications, pulled through google-cloud-pubsub's REST transport ------


@pytest.fixture
def pubsub(google, monkeypatch):
    from tests.emulators.pubsub_emulator import PubSubEmulator

    with PubSubEmulator(google) as fake:
        google.notify = fake.publish
        monkeypatch.setenv(
            "AIRFLOW_CONN_DICOMWEB_GOOGLE",
            google_connection(google, pubsub_subscription=fake.subscription, pubsub_api_root=fake.url),
        )
        try:
            yield fake
        finally:
            google.notify = None


def google_client():
    from airflow_dicomweb.hooks.dicomweb import DicomWebHook

    return DicomWebHook("dicomweb_google").get_conn()


def google_poll(cursor, settle=3.0):
    with google_client() as client:
        return poll_once(client, "google-pubsub", WatchOptions(settle_seconds=settle), cursor)


def google_burst(study: str, count: int, tmp_path) -> None:
    files = make_series(tmp_path / generate_uid(), count, study_uid=study, rows=8, columns=8)
    with google_client() as client:
        assert client.store_instances(files).ok


def test_google_notifications_announce_a_study_once_complete_with_its_token_and_acknowledge_after(
    pubsub, google, tmp_path
):
    first = google_poll(None)
    assert (
        "reading google-pubsub events from projects/test-project/subscriptions/dicom-events" in first.baseline
    )
    cursor = first.cursor
    study = generate_uid()
    for _ in range(2):
        google_burst(study, 2, tmp_path)
        result = google_poll(cursor)
        assert result.announcements == []
        cursor = result.cursor
        time.sleep(1)
    assert pubsub.outstanding() == 4 and "modifyAckDeadline" in pubsub.calls
    time.sleep(2.5)
    result = google_poll(cursor)
    assert seen(result.announcements) == [(study, 4, False)]
    assert pubsub.outstanding() == 4  # until the event is handed over
    result = google_poll(result.cursor)
    assert pubsub.outstanding() == 0
    google_burst(study, 1, tmp_path)  # a series later: an update
    time.sleep(3.2)
    result = google_poll(result.cursor)
    assert seen(result.announcements) == [(study, 5, True)]
    result = google_poll(result.cursor)
    # a message of another store, a path that is not one, and one that is not a UID: skipped, acknowledged
    pubsub.publish(
        "projects/other/locations/l/datasets/d/dicomStores/s/dicomWeb/studies/1.2/series/1.3/instances/1.4"
    )
    pubsub.publish("not a path")
    store = f"{google.dataset_path}/dicomStores/{google.dicom_store}/dicomWeb"
    pubsub.publish(f"{store}/studies/1.2.x/series/1.3/instances/1.4")
    result = google_poll(result.cursor)
    assert result.announcements == [] and pubsub.outstanding() == 0


def test_google_pubsub_refuses_a_connection_without_its_subscription(google, monkeypatch):
    from airflow_dicomweb.core.errors import DicomWebConfigError

    monkeypatch.setenv("AIRFLOW_CONN_DICOMWEB_GOOGLE", google_connection(google))
    with pytest.raises(DicomWebConfigError, match="needs the connection extra pubsub_subscription"):
        google_poll(None)


def test_a_queue_that_refuses_the_key_is_a_named_error_that_shows_no_key(azure, caplog):
    import logging

    from airflow_dicomweb.core.errors import DicomWebConnectionError

    caplog.set_level(logging.DEBUG)
    wrong = base64.b64encode(b"not the account key, but a secret all the same 0123456789").decode()
    azure.queue_extras["event_grid_queue_key"] = wrong
    with client_for(azure, **azure.queue_extras) as client:
        with pytest.raises(
            DicomWebConnectionError, match=r"azure-event-grid http://127\.0\.0\.1:\d+/"
        ) as caught:
            poll_once(client, SOURCE, WatchOptions(settle_seconds=3), None)
        # the source registered the key with the transport's redactor: no message carries it from then on
        assert wrong not in client.transport.redact(f"an error quoting {wrong} back")
    assert wrong not in str(caught.value) and wrong not in caplog.text


# --- AWS: HealthImaging's EventBridge events in an SQS queue (moto in server mode), read with botocore -------


@pytest.fixture
def eventbridge(clean_orthanc, moto_server, monkeypatch):
    from botocore.session import Session

    from tests.emulators import healthimaging_emulator as hi

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", hi.ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", hi.SECRET_KEY)
    monkeypatch.setenv("AWS_SESSION_TOKEN", hi.SESSION_TOKEN)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    sqs = Session().create_client("sqs", region_name=hi.REGION, endpoint_url=moto_server.url)
    queue_url = sqs.create_queue(QueueName=f"healthimaging-{generate_uid()[-10:].replace('.', '')}")[
        "QueueUrl"
    ]
    with hi.HealthImagingEmulator(clean_orthanc) as emulator:
        emulator.event_sink = lambda body: sqs.send_message(QueueUrl=queue_url, MessageBody=body)
        emulator.sqs, emulator.queue_url = sqs, queue_url
        emulator.extras = {
            "auth_type": "aws",
            "region_name": hi.REGION,
            "server": "healthimaging",
            "eventbridge_queue_url": queue_url,
            "medical_imaging_endpoint": emulator.url,
            **FAST_RETRY_EXTRAS,
        }
        yield emulator
    sqs.delete_queue(QueueUrl=queue_url)
    sqs.close()


def sqs_count(eventbridge) -> int:
    attributes = eventbridge.sqs.get_queue_attributes(
        QueueUrl=eventbridge.queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def aws_poll(eventbridge, cursor, settle=3.0):
    from airflow_dicomweb.core.client import DicomWebClient

    with DicomWebClient.from_url(eventbridge.dicomweb_url, **eventbridge.extras) as client:
        return poll_once(client, "aws-eventbridge", WatchOptions(settle_seconds=settle), cursor)


def aws_burst(eventbridge, study: str, count: int, tmp_path) -> None:
    from airflow_dicomweb.core.client import DicomWebClient

    files = make_series(tmp_path / generate_uid(), count, study_uid=study, rows=8, columns=8)
    with DicomWebClient.from_url(eventbridge.dicomweb_url, **eventbridge.extras) as client:
        assert client.store_instances(files).ok


def test_healthimaging_events_announce_a_study_once_complete_its_uid_from_the_image_set_metadata(
    eventbridge, tmp_path
):
    first = aws_poll(eventbridge, None)
    assert "reading aws-eventbridge events from http://127.0.0.1" in first.baseline
    cursor = first.cursor
    study = generate_uid()
    for _ in range(3):
        aws_burst(eventbridge, study, 2, tmp_path)
        result = aws_poll(eventbridge, cursor)
        assert result.announcements == []
        cursor = result.cursor
        time.sleep(1)
    assert sqs_count(eventbridge) == 3  # one Created, two Updated; held
    time.sleep(2.5)
    result = aws_poll(eventbridge, cursor)
    assert seen(result.announcements) == [(study, 6, False)]
    result = aws_poll(eventbridge, result.cursor)
    assert sqs_count(eventbridge) == 0
    aws_burst(eventbridge, study, 1, tmp_path)  # a series later: Image Set Updated, an update
    time.sleep(3.2)
    result = aws_poll(eventbridge, result.cursor)
    assert seen(result.announcements) == [(study, 7, True)]
    result = aws_poll(eventbridge, result.cursor)
    # another data store, another event type, not JSON, an image set that does not exist
    from tests.emulators import healthimaging_emulator as hi

    def event(kind="Image Set Created", **detail):
        return json.dumps(
            {
                "source": "aws.medical-imaging",
                "detail-type": kind,
                "time": "2026-01-01T00:00:00Z",
                "detail": {"datastoreId": hi.DATASTORE, "imagesetId": "0" * 32, **detail},
            }
        )

    for body in (
        event(datastoreId="f" * 32),
        event("Data Store Created"),
        "{not json",
        event(),
    ):
        eventbridge.sqs.send_message(QueueUrl=eventbridge.queue_url, MessageBody=body)
    result = aws_poll(eventbridge, result.cursor)
    assert result.announcements == [] and sqs_count(eventbridge) == 0

"""Study arrivals pushed by AWS HealthImaging: its EventBridge events (``Image Set Created``,
``Image Set Updated``) delivered by an EventBridge rule to an SQS queue, read with botocore.

Set up: an EventBridge rule matching ``{"source": ["aws.medical-imaging"], "detail-type": ["Image Set
Created", "Image Set Updated"]}`` with the SQS queue as its target (and the queue policy letting EventBridge
send to it), and the connection's extra ``eventbridge_queue_url``
(``https://sqs.REGION.amazonaws.com/ACCOUNT/QUEUE``). Both are read with the connection's AWS credentials
(``auth_type: aws``: botocore's chain or the Airflow AWS connection), in its region.

An event names an image set, not a study: its study is the ``StudyInstanceUID`` of the image set's DICOM
metadata (``GetImageSetMetadata``; ``medical_imaging_endpoint`` replaces its endpoint, for a private one).
An event of another data store, of another event type, or whose image set has no valid study UID is skipped.
Its event time is the event's ``time``. How messages are held and deleted is :mod:`.push`'s.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from airflow_dicomweb.core.arrivals.event import event_seconds
from airflow_dicomweb.core.arrivals.push import Delivery, InstanceStored, PushSource, Queue
from airflow_dicomweb.core.connection_field import ConnectionField
from airflow_dicomweb.core.errors import DicomWebConfigError
from airflow_dicomweb.core.uids import is_valid_uid

#: The image set events that mean instances were stored.
STORED = ("Image Set Created", "Image Set Updated")
_DATASTORE = re.compile(r"/datastore/([0-9a-z]{32})(/|\Z)")
_ID = re.compile(r"\A[0-9a-z]{32}\Z")
#: The most a metadata document may take once decompressed: a study's is far smaller.
_MAX_METADATA = 64 * 1024 * 1024


class SqsQueue:
    """An SQS queue, through botocore."""

    #: SQS's longest visibility timeout is 12 hours.
    max_visibility = 12 * 3600

    def __init__(self, queue_url: str, client: Any) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        self.errors: tuple[type[BaseException], ...] = (BotoCoreError, ClientError)
        self.queue_url = queue_url
        self.client = client

    def receive(self, max_messages: int, visibility_seconds: int) -> list[Delivery]:
        answer = self.client.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=min(max_messages, 10),  # SQS's most per call
            VisibilityTimeout=visibility_seconds,
            WaitTimeSeconds=0,
        )
        return [
            Delivery(
                str(m["MessageId"]), str(m.get("Body", "")).encode("utf-8", "replace"), m["ReceiptHandle"]
            )
            for m in answer.get("Messages", [])
        ]

    def acknowledge(self, deliveries: Sequence[Delivery]) -> None:
        for start in range(0, len(deliveries), 10):  # SQS deletes at most 10 per call
            batch = deliveries[start : start + 10]
            self.client.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(n), "ReceiptHandle": d.handle} for n, d in enumerate(batch)],
            )

    def close(self) -> None:
        self.client.close()


class AwsEventBridgeSource(PushSource):
    """Arrivals from AWS HealthImaging's EventBridge events in an SQS queue."""

    name = "aws-eventbridge"
    fields = (
        ConnectionField(
            "eventbridge_queue_url",
            "EventBridge queue",
            "With source aws-eventbridge: the SQS queue an EventBridge rule sends HealthImaging's image set "
            "events to (https://sqs.REGION.amazonaws.com/ACCOUNT/QUEUE).",
            format="url",
        ),
        ConnectionField(
            "medical_imaging_endpoint",
            "HealthImaging API endpoint",
            "With source aws-eventbridge: a private endpoint for GetImageSetMetadata instead of AWS's.",
            format="url",
        ),
    )

    def __init__(self, client: Any) -> None:
        super().__init__(client)
        self._metadata_client: Any = None
        self._studies: dict[str, str] = {}  # image set id -> StudyInstanceUID, for this poll

    def where(self) -> str:
        return str(self.client.transport.settings.extras.get("eventbridge_queue_url") or "")

    def _botocore_client(self, service: str, endpoint: str | None) -> Any:
        from botocore.config import Config
        from botocore.session import Session

        from airflow_dicomweb.core.auth.aws import region_of

        settings = self.client.transport.settings
        if settings.auth_type != "aws":
            raise DicomWebConfigError("source aws-eventbridge reads with the connection's AWS credentials")
        source = settings.auth_fields.get("credentials")
        keys: dict[str, Any] = {}
        if source is not None:
            frozen = source().get_frozen_credentials()
            keys = {
                "aws_access_key_id": frozen.access_key,
                "aws_secret_access_key": frozen.secret_key,
                "aws_session_token": frozen.token,
            }
        return Session().create_client(
            service,
            region_name=region_of(settings),
            endpoint_url=endpoint,
            # an endpoint given is the host to call, not one to prefix (runtime-...)
            config=Config(inject_host_prefix=endpoint is None, retries={"max_attempts": 3}),
            **keys,
        )

    def _datastore(self) -> str:
        found = _DATASTORE.search(urlsplit(self.client.transport.base_url).path)
        return found.group(1) if found else ""

    def open_queue(self) -> Queue:
        url = self.where()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise DicomWebConfigError(
                "source aws-eventbridge needs the connection extra eventbridge_queue_url"
            )
        return SqsQueue(url, self._botocore_client("sqs", f"{parts.scheme}://{parts.netloc}"))

    def read(self, delivery: Delivery) -> InstanceStored | None:
        try:
            event = json.loads(delivery.body)
        except ValueError:
            raise ValueError("not JSON") from None
        if not isinstance(event, dict) or event.get("source") != "aws.medical-imaging":
            raise ValueError("not a HealthImaging EventBridge event")
        if event.get("detail-type") not in STORED:
            return None
        detail = event.get("detail")
        if not isinstance(detail, dict):
            raise ValueError("an event with no detail")
        datastore = detail.get("datastoreId")
        if datastore != self._datastore():
            raise ValueError(f"an event of another data store ({str(datastore)[:40]!r})")
        image_set = detail.get("imagesetId") or detail.get("imageSetId")
        if not isinstance(image_set, str) or not _ID.match(image_set):
            raise ValueError(f"an event with no valid image set id ({str(image_set)[:40]!r})")
        if image_set not in self._studies:  # an image set's Created and Updated events read it once a poll
            self._studies[image_set] = self._study_of(datastore, image_set)
        study = self._studies[image_set]
        when = event.get("time")
        try:
            at = event_seconds(when) if isinstance(when, str) else None
        except ValueError:
            at = None
        return InstanceStored(study, at)

    def _study_of(self, datastore: str, image_set: str) -> str:
        """The StudyInstanceUID of the image set's DICOM metadata (``GetImageSetMetadata``)."""
        from botocore.exceptions import ClientError

        if self._metadata_client is None:  # one client a poll (the source lives for one poll)
            endpoint = self.client.transport.settings.extras.get("medical_imaging_endpoint")
            self._metadata_client = self._botocore_client(
                "medical-imaging", str(endpoint) if endpoint else None
            )
        try:  # any other failure fails the poll: the message comes back, nothing is lost
            answer = self._metadata_client.get_image_set_metadata(datastoreId=datastore, imageSetId=image_set)
            body = answer["imageSetMetadataBlob"].read(_MAX_METADATA + 1)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
            raise ValueError(f"image set {image_set} is gone") from None
        if answer.get("contentEncoding") == "gzip" or body[:2] == b"\x1f\x8b":
            inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
            try:
                body = inflate.decompress(body, _MAX_METADATA + 1)
            except zlib.error:
                raise ValueError(f"image set {image_set}'s metadata is not gzip") from None
        if len(body) > _MAX_METADATA:
            raise ValueError(f"image set {image_set}'s metadata is larger than {_MAX_METADATA} bytes")
        try:
            study = json.loads(body)["Study"]["DICOM"]["StudyInstanceUID"]
        except (ValueError, KeyError, TypeError):
            raise ValueError(f"image set {image_set}'s metadata names no StudyInstanceUID") from None
        if not isinstance(study, str) or not is_valid_uid(study):
            raise ValueError(f"image set {image_set}'s study UID is not a UID ({str(study)[:80]!r})")
        return study


SOURCE = AwsEventBridgeSource

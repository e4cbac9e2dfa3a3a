"""Study arrivals pushed by Azure's DICOM service: Event Grid's ``Microsoft.HealthcareApis.DicomImageCreated``
events, delivered by an Event Grid subscription to an Azure Storage queue, read with ``azure-storage-queue``.

Set up: an Event Grid system topic on the Health Data Services workspace, a subscription to the event type
``Microsoft.HealthcareApis.DicomImageCreated`` with a Storage queue as its endpoint (Event Grid or
CloudEvents schema), and the connection's extra ``event_grid_queue_url``
(``https://ACCOUNT.queue.core.windows.net/QUEUE``). The queue is read with the connection's Entra ID
credential (the role *Storage Queue Data Message Processor*), or with the storage account's key in
``event_grid_queue_key``.

Each event names the instance's UIDs and the service's host (``serviceHostName``): an event of another
DICOM service is skipped, as is one whose UIDs are not UIDs; the message body may be the event's JSON or
its base64 (as Event Grid writes it). How messages are held and acknowledged is :mod:`.push`'s.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from airflow_dicomweb.core.arrivals.event import event_seconds
from airflow_dicomweb.core.arrivals.push import Delivery, InstanceStored, PushSource, Queue
from airflow_dicomweb.core.connection_field import ConnectionField
from airflow_dicomweb.core.errors import DicomWebConfigError
from airflow_dicomweb.core.uids import is_valid_uid

CREATED = "Microsoft.HealthcareApis.DicomImageCreated"


class AzureStorageQueue:
    """An Azure Storage queue, through ``azure-storage-queue``."""

    #: Azure's longest visibility timeout is 7 days.
    max_visibility = 7 * 24 * 3600

    def __init__(self, queue_url: str, credential: Any) -> None:
        from azure.core.exceptions import AzureError
        from azure.storage.queue import QueueClient

        self.errors: tuple[type[BaseException], ...] = (AzureError,)
        self.client = QueueClient.from_queue_url(queue_url, credential=credential)

    def receive(self, max_messages: int, visibility_seconds: int) -> list[Delivery]:
        messages = self.client.receive_messages(
            messages_per_page=min(max_messages, 32),
            visibility_timeout=visibility_seconds,
            max_messages=max_messages,
        )
        return [
            Delivery(str(m.id), str(m.content or "").encode("utf-8", "replace"), (m.id, m.pop_receipt))
            for m in messages
        ]

    def acknowledge(self, deliveries: Sequence[Delivery]) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        for delivery in deliveries:
            message_id, pop_receipt = delivery.handle
            # gone already, or received again since (with a new pop receipt): nothing to do
            with contextlib.suppress(ResourceNotFoundError):
                self.client.delete_message(message_id, pop_receipt)

    def close(self) -> None:
        self.client.close()


def _event(body: bytes) -> dict[str, Any]:
    """The event of a message: its JSON, or the JSON of its base64; one event, or a list of one."""
    text = body.strip()
    if not text.startswith((b"{", b"[")):
        try:
            text = base64.b64decode(text, validate=True).strip()
        except (binascii.Error, ValueError):
            raise ValueError("neither JSON nor base64 JSON") from None
    try:
        event = json.loads(text)
    except ValueError:
        raise ValueError("not JSON") from None
    if isinstance(event, list) and len(event) == 1:
        event = event[0]
    if not isinstance(event, dict):
        raise ValueError("not one Event Grid event")
    return event


class AzureEventGridSource(PushSource):
    """Arrivals from Azure's Event Grid events in a Storage queue."""

    name = "azure-event-grid"
    fields = (
        ConnectionField(
            "event_grid_queue_url",
            "Event Grid queue",
            "With source azure-event-grid: the Storage queue an Event Grid subscription delivers "
            "Microsoft.HealthcareApis.DicomImageCreated events to (https://ACCOUNT.queue.core.windows.net/QUEUE).",
            format="url",
        ),
        ConnectionField(
            "event_grid_queue_key",
            "Event Grid queue account key",
            "The storage account's key, to read that queue with; empty: the connection's Entra ID credential.",
            format="password",
            secret=True,
        ),
    )

    def where(self) -> str:
        return str(self.client.transport.settings.extras.get("event_grid_queue_url") or "")

    def open_queue(self) -> Queue:
        settings = self.client.transport.settings
        url = self.where()
        if not url:
            raise DicomWebConfigError(
                "source azure-event-grid needs the connection extra event_grid_queue_url"
            )
        key = settings.extras.get("event_grid_queue_key")
        credential: Any
        if key:
            self.client.transport.redactor.add(str(key))  # a secret: out of every message from here on
            credential = str(key)  # the SDK pairs an account key with the account its URL names
        else:
            make = getattr(self.client.transport.auth, "credential", None)
            if make is None:
                raise DicomWebConfigError(
                    "source azure-event-grid reads its queue with the connection's Entra ID credential "
                    "(auth_type azure) or the extra event_grid_queue_key"
                )
            credential = make()
        return AzureStorageQueue(url, credential)

    def read(self, delivery: Delivery) -> InstanceStored | None:
        event = _event(delivery.body)
        kind = event.get("eventType") or event.get("type")
        if kind != CREATED:
            return None  # a deletion, or another event type routed to the same queue
        data = event.get("data")
        if not isinstance(data, dict):
            raise ValueError("an event with no data")
        host = urlsplit(self.client.transport.base_url).hostname
        if data.get("serviceHostName") != host:
            raise ValueError(f"an event of another DICOM service ({str(data.get('serviceHostName'))[:80]!r})")
        study = data.get("imageStudyInstanceUid")
        if not isinstance(study, str) or not is_valid_uid(study):
            raise ValueError(f"an event whose study UID is not a UID ({str(study)[:80]!r})")
        when = event.get("eventTime") or event.get("time")
        try:
            at = event_seconds(when) if isinstance(when, str) else None
        except ValueError:
            at = None  # the time the poll reads it
        return InstanceStored(study, at)


SOURCE = AzureEventGridSource

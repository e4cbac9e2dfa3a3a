"""Study arrivals pushed by a Google DICOM store: its Pub/Sub notifications, one message per instance stored,
whose data is the instance's DICOMweb path
(``projects/P/locations/L/datasets/D/dicomStores/S/dicomWeb/studies/X/series/Y/instances/Z``), pulled from a
subscription with ``google-cloud-pubsub`` (its REST transport, with the connection's Google credentials).

Set up: the store's ``notificationConfigs`` (``pubsubTopic``), a pull subscription on that topic, the role
*Pub/Sub Subscriber* for the connection's identity, and the connection's extra ``pubsub_subscription``
(``projects/P/subscriptions/S``). A message about another store (its path is not under the connection's
store) is skipped, as is one whose UIDs are not UIDs. Its event time is the message's publish time. How
messages are held and acknowledged is :mod:`.push`'s; a held message's ack deadline is extended as it is
received (Pub/Sub's longest is 600 s).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from airflow_dicomweb.core import defaults
from airflow_dicomweb.core.arrivals.push import Delivery, InstanceStored, PushSource, Queue
from airflow_dicomweb.core.connection_field import ConnectionField
from airflow_dicomweb.core.errors import DicomWebConfigError
from airflow_dicomweb.core.uids import is_valid_uid

_SUBSCRIPTION = re.compile(r"\Aprojects/[^/]+/subscriptions/[^/]+\Z")
_INSTANCE = re.compile(r"\A(?P<store>.+/dicomWeb)/studies/(?P<study>[^/]+)/series/[^/]+/instances/[^/]+\Z")


class PubSubSubscription:
    """A Pub/Sub pull subscription, through google-cloud-pubsub's REST transport."""

    #: Pub/Sub's longest ack deadline.
    max_visibility = 600

    def __init__(self, subscription: str, credentials: Any, api_root: str) -> None:
        from google.api_core.client_options import ClientOptions
        from google.api_core.exceptions import GoogleAPIError
        from google.auth.exceptions import GoogleAuthError
        from google.cloud import pubsub_v1

        self.errors: tuple[type[BaseException], ...] = (GoogleAPIError, GoogleAuthError)
        self.subscription = subscription
        self.client = pubsub_v1.SubscriberClient(
            credentials=credentials, transport="rest", client_options=ClientOptions(api_endpoint=api_root)
        )

    def receive(self, max_messages: int, visibility_seconds: int) -> list[Delivery]:
        response = self.client.pull(
            request={"subscription": self.subscription, "max_messages": max_messages}, timeout=30
        )
        received = list(response.received_messages)
        if received:
            self.client.modify_ack_deadline(
                request={
                    "subscription": self.subscription,
                    "ack_ids": [r.ack_id for r in received],
                    "ack_deadline_seconds": visibility_seconds,
                }
            )
        return [Delivery(str(r.message.message_id), bytes(r.message.data), r) for r in received]

    def acknowledge(self, deliveries: Sequence[Delivery]) -> None:
        ack_ids = [d.handle.ack_id for d in deliveries]
        for start in range(0, len(ack_ids), 1000):  # Pub/Sub takes at most so many per call
            self.client.acknowledge(
                request={"subscription": self.subscription, "ack_ids": ack_ids[start : start + 1000]}
            )

    def close(self) -> None:
        # the wrapper's close() knows only the gRPC channel; the REST transport closes its own session
        self.client.transport.close()


def _store_path(service_root: str) -> str:
    """The store's resource path of a Google service root (``projects/.../dicomStores/S/dicomWeb``)."""
    path = urlsplit(service_root).path
    return path[path.find("projects/") :].rstrip("/") if "projects/" in path else ""


def _publish_seconds(value: Any) -> float | None:
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).timestamp()
    return None


class GooglePubSubSource(PushSource):
    """Arrivals from a Google DICOM store's Pub/Sub notifications."""

    name = "google-pubsub"
    fields = (
        ConnectionField(
            "pubsub_subscription",
            "Pub/Sub subscription",
            "With source google-pubsub: the pull subscription of the store's notification topic "
            "(projects/P/subscriptions/S).",
        ),
        ConnectionField(
            "pubsub_api_root",
            "Pub/Sub endpoint",
            "With source google-pubsub: a private endpoint instead of pubsub.googleapis.com.",
            format="url",
        ),
    )

    def where(self) -> str:
        return str(self.client.transport.settings.extras.get("pubsub_subscription") or "")

    def open_queue(self) -> Queue:
        from airflow_dicomweb.core.auth.google import google_credentials

        settings = self.client.transport.settings
        subscription = self.where()
        if not _SUBSCRIPTION.match(subscription):
            raise DicomWebConfigError(
                "source google-pubsub needs the connection extra pubsub_subscription "
                f"(projects/P/subscriptions/S), not {subscription[:100]!r}"
            )
        if settings.auth_type != "google":
            raise DicomWebConfigError("source google-pubsub reads with the connection's Google credentials")
        api_root = str(settings.extras.get("pubsub_api_root") or defaults.PUBSUB_API_ROOT)
        return PubSubSubscription(subscription, google_credentials(settings), api_root)

    def read(self, delivery: Delivery) -> InstanceStored | None:
        try:
            path = delivery.body.decode("ascii").strip()
        except UnicodeDecodeError:
            raise ValueError("its data is not an instance's path") from None
        found = _INSTANCE.match(path)
        if found is None:
            raise ValueError(f"its data is not an instance's path ({path[:100]!r})")
        store = _store_path(self.client.transport.base_url)
        if found["store"] != store:
            raise ValueError(f"a notification of another store ({found['store'][:120]!r})")
        study = found["study"]
        if not is_valid_uid(study):
            raise ValueError(f"a notification whose study UID is not a UID ({study[:80]!r})")
        return InstanceStored(study, _publish_seconds(getattr(delivery.handle.message, "publish_time", None)))


SOURCE = GooglePubSubSource

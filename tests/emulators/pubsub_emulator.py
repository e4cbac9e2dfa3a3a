"""Pub/Sub's pull API as its REST reference documents it, on loopback, for google-cloud-pubsub's own REST
transport (no Pub/Sub emulator installs from a registry here). A test double, not Google:

* ``POST /v1/projects/P/subscriptions/S:pull`` ``{"maxMessages"}`` answers ``{"receivedMessages": [{"ackId",
  "message": {"data" (base64), "messageId", "publishTime", "attributes"}, "deliveryAttempt"}]}``; a message
  pulled is out of sight until its ack deadline (the subscription's, 10 s, or one set by
  ``:modifyAckDeadline`` ``{"ackIds", "ackDeadlineSeconds"}``, at most 600) runs out, then it is delivered
  again with a new ack id;
* ``:acknowledge`` ``{"ackIds"}`` removes the messages (an unknown or expired ack id is ignored, as
  Pub/Sub does);
* every call needs a bearer token the Google emulator issued, or a JWT signed by the service account's key
  (google-auth's self-signed JWT access) (else 401), so credentials come from the connection through
  google-auth, as against Google.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
import threading
import time
from dataclasses import dataclass, field

from tests.fakes.fake_server import FakeServer, Request


@dataclass
class _Message:
    message_id: str
    data: bytes
    published: dt.datetime
    attributes: dict[str, str] = field(default_factory=dict)
    visible_at: float = 0.0
    ack_id: str | None = None
    attempts: int = 0


class PubSubEmulator(FakeServer):
    def __init__(
        self, google, subscription: str = "projects/test-project/subscriptions/dicom-events"
    ) -> None:
        self.google = google
        self.subscription = subscription
        self.ack_deadline = 10.0
        self.messages: dict[str, _Message] = {}
        self.calls: list[str] = []
        self._lock = threading.Lock()
        super().__init__(self._serve)

    def _authorized(self, headers: dict) -> bool:
        """A token the Google emulator issued, or a JWT the service account signed itself (google-auth's
        self-signed JWT access, which Google's client libraries use with a service-account key)."""
        value = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        token = value.removeprefix("Bearer ")
        if token.count(".") != 2:
            return self.google._authorized(headers)
        why, email, claims = self.google.verify_jwt(token)
        return not why and claims.get("iss") == email and claims.get("exp", 0) > time.time()

    def publish(self, data: bytes | str, **attributes: str) -> str:
        message_id = str(len(self.messages) + 1 + secrets.randbelow(10**6) * 10**3)
        with self._lock:
            self.messages[message_id] = _Message(
                message_id,
                data.encode() if isinstance(data, str) else data,
                dt.datetime.now(dt.UTC),
                dict(attributes),
            )
        return message_id

    def outstanding(self) -> int:
        """Messages not acknowledged yet, in flight or not."""
        with self._lock:
            return len(self.messages)

    def _serve(self, request: Request):
        if not self._authorized(request.headers):
            return 401, {"Content-Type": "application/json"}, b'{"error": {"code": 401}}'
        path = request.path.removeprefix("/v1/")
        name, _, verb = path.partition(":")
        self.calls.append(verb)
        if name != self.subscription or request.method != "POST":
            return 404, {"Content-Type": "application/json"}, b'{"error": {"code": 404}}'
        body = json.loads(request.body or b"{}")
        if verb == "pull":
            return self._json(self._pull(int(body.get("maxMessages") or 1)))
        if verb == "acknowledge":
            with self._lock:
                for ack_id in body.get("ackIds") or []:
                    found = [m for m in self.messages.values() if m.ack_id == ack_id]
                    for message in found:
                        del self.messages[message.message_id]
            return self._json({})
        if verb == "modifyAckDeadline":
            seconds = min(int(body.get("ackDeadlineSeconds") or 0), 600)
            with self._lock:
                for message in self.messages.values():
                    if message.ack_id in (body.get("ackIds") or []):
                        message.visible_at = time.monotonic() + seconds
            return self._json({})
        return 404, {}, b""

    def _pull(self, max_messages: int) -> dict:
        now = time.monotonic()
        out = []
        with self._lock:
            for message in self.messages.values():
                if len(out) >= max_messages:
                    break
                if message.visible_at > now:
                    continue
                message.ack_id = secrets.token_urlsafe(16)
                message.visible_at = now + self.ack_deadline
                message.attempts += 1
                out.append(
                    {
                        "ackId": message.ack_id,
                        "message": {
                            "data": base64.b64encode(message.data).decode(),
                            "messageId": message.message_id,
                            "publishTime": message.published.isoformat().replace("+00:00", "Z"),
                            "attributes": message.attributes,
                        },
                        "deliveryAttempt": message.attempts,
                    }
                )
        return {"receivedMessages": out} if out else {}

    @staticmethod
    def _json(body: dict):
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

"""Azure's documented contracts on loopback, for azure-identity to run end to end: App Service's managed
identity endpoint (``IDENTITY_ENDPOINT``, ``IDENTITY_HEADER``: ``GET ?api-version=2019-08-01&resource=...``
with ``X-IDENTITY-HEADER``) issuing tokens with an ``expires_on``, and a DICOM service that takes only a
current token for its audience (else 401), its data in the real Orthanc. A test double, not Azure."""

from __future__ import annotations

import json
import secrets
import threading
import time
from urllib.parse import parse_qsl

from tests.fake_server import FakeServer
from tests.orthanc_front import OrthancFront

AUDIENCE = "https://dicom.healthcareapis.azure.com"


class AzureEmulator:
    def __init__(self, orthanc, token_lifetime: float = 3600) -> None:
        self.identity_header = secrets.token_hex(16)
        self.token_lifetime = token_lifetime
        self.tokens: dict[str, float] = {}  # token -> expires_on
        self.revoked: set[str] = set()
        self.token_requests: list[dict[str, str]] = []
        self.authorizations: list[str] = []
        self._lock = threading.Lock()
        self.identity = FakeServer(self._issue)
        self.dicom = OrthancFront(orthanc, self._check, prefix="/v2")

    def __enter__(self) -> AzureEmulator:
        self.identity.__enter__()
        self.dicom.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.dicom.__exit__(*exc)
        self.identity.__exit__(*exc)

    @property
    def environment(self) -> dict[str, str]:
        """What App Service sets for a managed identity."""
        return {
            "IDENTITY_ENDPOINT": f"{self.identity.url}/msi/token",
            "IDENTITY_HEADER": self.identity_header,
        }

    def revoke_all(self) -> None:
        with self._lock:
            self.revoked |= set(self.tokens)

    def _issue(self, request):
        query = dict(parse_qsl(request.query))
        self.token_requests.append(query)
        if request.headers.get("X-IDENTITY-HEADER") != self.identity_header:
            return 401, {"Content-Type": "application/json"}, b'{"error": "invalid identity header"}'
        if query.get("api-version") != "2019-08-01" or query.get("resource") != AUDIENCE:
            return 400, {"Content-Type": "application/json"}, b'{"error": "invalid_resource"}'
        token = "eyJ0eXAiOiJKV1Qi." + secrets.token_urlsafe(24)
        expires_on = time.time() + self.token_lifetime
        with self._lock:
            self.tokens[token] = expires_on
        body = {
            "access_token": token,
            "expires_on": str(int(expires_on)),
            "resource": AUDIENCE,
            "token_type": "Bearer",
            "client_id": "00000000-0000-0000-0000-000000000001",
        }
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

    def _check(self, request):
        header = request.headers.get("Authorization", "")
        self.authorizations.append(header)
        token = header.removeprefix("Bearer ")
        with self._lock:
            valid = token in self.tokens and token not in self.revoked and self.tokens[token] > time.time()
        if not valid:
            return 401, {"WWW-Authenticate": 'Bearer error="invalid_token"'}, b""
        limit = dict(parse_qsl(request.query)).get("limit")
        if limit is not None and not 1 <= int(limit) <= 200:  # the v2 API's documented range
            return (
                400,
                {"Content-Type": "application/json"},
                b'{"error": "The limit must be between 1 and 200."}',
            )
        return None

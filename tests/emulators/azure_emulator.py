"""Azure's documented contracts on loopback, for azure-identity to run end to end: App Service's managed
identity endpoint (``IDENTITY_ENDPOINT``, ``IDENTITY_HEADER``: ``GET ?api-version=2019-08-01&resource=...``
with ``X-IDENTITY-HEADER``) issuing tokens with an ``expires_on``, and a DICOM service (API v2) that takes
only a current token for its audience (else 401), its data in the real Orthanc. Beyond DICOMweb, as the v2
API documents them:

- the change feed: every instance stored or deleted through the emulator is an entry (``Sequence``,
  ``Action``, ``Timestamp``, ``State``, the UIDs); ``GET /changefeed?startTime&endTime&offset&limit`` (limit
  1 to 200, else 400; ``startTime`` inclusive) and ``GET /changefeed/latest``;
- Event Grid: with ``event_queue`` set (an azure-storage-queue ``QueueClient``, Azurite's in the tests), each
  instance stored is a ``Microsoft.HealthcareApis.DicomImageCreated`` event (Event Grid schema: ``id``,
  ``eventType``, ``eventTime``, ``data`` with ``partitionName``, the three UIDs, ``serviceHostName`` and
  ``sequenceNumber``), base64-encoded JSON, one per message, as a Storage-queue subscription delivers it;
- a study delete, done at once (204), through Orthanc's REST API;
- export (``POST /export``, identifiers to an ``azureblob`` container, a local folder stands for it): 202 with
  ``{"id", "href"}``, then ``GET /operations/{id}``, 202 while it runs and 200 once over, with ``status``,
  ``percentComplete`` and ``results`` (``exported``, ``skipped``, ``errors``).

A test double, not Azure."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import secrets
import threading
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from tests.emulators.orthanc_front import OrthancFront
from tests.fakes.fake_server import FakeServer

AUDIENCE = "https://dicom.healthcareapis.azure.com"


class AzureEmulator:
    def __init__(self, orthanc, token_lifetime: float = 3600, blob_root: Path | None = None) -> None:
        self.orthanc = orthanc
        self.feed: list[dict] = []
        self.event_queue = None  # an azure-storage-queue QueueClient: Event Grid's deliveries
        self.operations: dict[str, dict] = {}
        self.blob_root = blob_root
        self.export_delay = 0.05  # seconds per instance, so that a poll sees the export running
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

    # --- the DICOM service ------------------------------------------------------------------------------

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
        path = request.path.removeprefix("/v2")
        if path == "/changefeed":
            return self._changefeed(dict(parse_qsl(request.query)))
        if path == "/changefeed/latest":
            if not self.feed:
                return 204, {}, b""
            return 200, {"Content-Type": "application/json"}, json.dumps(self.feed[-1]).encode()
        if request.method == "POST" and path == "/studies":
            return self._store(request)
        if request.method == "DELETE" and re.fullmatch(r"/studies/[0-9.]+", path):
            return self._delete_study(path.rsplit("/", 1)[1])
        if request.method == "POST" and path == "/export":
            return self._start_export(request)
        if request.method == "GET" and path.startswith("/operations/"):
            return self._operation(path.rsplit("/", 1)[1])
        return None

    def _json(self, status: int, body) -> tuple[int, dict[str, str], bytes]:
        return status, {"Content-Type": "application/json"}, json.dumps(body).encode()

    def _record(self, action: str, study: str, series: str, sop: str) -> None:
        with self._lock:
            now = dt.datetime.now(dt.UTC)
            if self.feed and now <= dt.datetime.fromisoformat(self.feed[-1]["_at"]):
                now = dt.datetime.fromisoformat(self.feed[-1]["_at"]) + dt.timedelta(microseconds=1)
            if action == "delete":
                for entry in self.feed:
                    if entry["SopInstanceUid"] == sop:
                        entry["State"] = "deleted"
            else:
                for entry in self.feed:
                    if entry["SopInstanceUid"] == sop and entry["State"] == "current":
                        entry["State"] = "replaced"
            self.feed.append(
                {
                    "Sequence": len(self.feed) + 1,
                    "StudyInstanceUid": study,
                    "SeriesInstanceUid": series,
                    "SopInstanceUid": sop,
                    "Action": action,
                    # seven decimals, as the service writes them
                    "Timestamp": now.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z",
                    "State": "deleted" if action == "delete" else "current",
                    "_at": now.isoformat(),
                }
            )
            entry = self.feed[-1]
        if self.event_queue is not None:
            self._publish(entry, now)

    def _publish(self, entry: dict, now: dt.datetime) -> None:
        """Event Grid's event for a feed entry, into the Storage queue."""
        kind = "DicomImageCreated" if entry["Action"] == "create" else "DicomImageDeleted"
        event = {
            "id": secrets.token_hex(16),
            "topic": "/subscriptions/s/resourceGroups/g/providers/Microsoft.HealthcareApis/workspaces/w",
            "subject": f"{self.host}/{entry['StudyInstanceUid']}/{entry['SeriesInstanceUid']}/"
            f"{entry['SopInstanceUid']}",
            "eventType": f"Microsoft.HealthcareApis.{kind}",
            "eventTime": now.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z",
            "data": {
                "partitionName": "Microsoft.Default",
                "imageStudyInstanceUid": entry["StudyInstanceUid"],
                "imageSeriesInstanceUid": entry["SeriesInstanceUid"],
                "imageSopInstanceUid": entry["SopInstanceUid"],
                "serviceHostName": self.host,
                "sequenceNumber": entry["Sequence"],
            },
            "dataVersion": "1",
            "metadataVersion": "1",
        }
        self.event_queue.send_message(base64.b64encode(json.dumps(event).encode()).decode())

    @property
    def host(self) -> str:
        """The DICOM service's host name, as its events name it."""
        return urlsplit(self.dicom.dicomweb_url).hostname or ""

    def _changefeed(self, query: dict[str, str]):
        def parsed(value: str) -> dt.datetime:
            found = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|\+00:00)?\Z", value)
            if not found:
                raise ValueError(value)
            fraction = (found[2] or ".0")[1:7].ljust(6, "0")
            return dt.datetime.fromisoformat(f"{found[1]}.{fraction}+00:00")

        try:
            offset = int(query.get("offset", 0))
            limit = int(query.get("limit", 100))
            start = parsed(query["startTime"]) if "startTime" in query else None
            end = parsed(query["endTime"]) if "endTime" in query else None
        except (ValueError, KeyError):
            return self._json(400, {"error": "invalid change feed query"})
        if not 1 <= limit <= 200 or offset < 0:
            return self._json(400, {"error": "The limit must be between 1 and 200."})
        with self._lock:
            window = [
                e
                for e in self.feed
                if (start is None or dt.datetime.fromisoformat(e["_at"]) >= start)
                and (end is None or dt.datetime.fromisoformat(e["_at"]) < end)
            ]
        page = [{k: v for k, v in e.items() if k != "_at"} for e in window[offset : offset + limit]]
        return self._json(200, page)

    def _store(self, request):
        status, headers, body = self.dicom._forward(request)
        if status in (200, 202):
            for item in (json.loads(body).get("00081199") or {}).get("Value") or []:
                url = ((item.get("00081190") or {}).get("Value") or [""])[0]
                found = re.search(r"/studies/([0-9.]+)/series/([0-9.]+)/instances/([0-9.]+)", url)
                if found:
                    self._record("create", *found.groups())
        return status, headers, body

    def _lookup(self, uid: str, kind: str) -> list[str]:
        found = self.orthanc.rest("POST", "/tools/lookup", data=uid).json()
        return [f["ID"] for f in found if f.get("Type") == kind]

    def _instances_of(self, orthanc_study: str) -> list[tuple[str, str, str, str]]:
        """(orthanc instance id, study, series, sop) of each instance of a study."""
        out = []
        for instance in self.orthanc.rest("GET", f"/studies/{orthanc_study}/instances?expand").json():
            tags = self.orthanc.rest("GET", f"/instances/{instance['ID']}/simplified-tags").json()
            out.append(
                (instance["ID"], tags["StudyInstanceUID"], tags["SeriesInstanceUID"], tags["SOPInstanceUID"])
            )
        return out

    def _delete_study(self, study: str):
        ids = self._lookup(study, "Study")
        if not ids:
            return self._json(404, {"error": f"study {study} not found"})
        for orthanc_id in ids:
            instances = self._instances_of(orthanc_id)
            self.orthanc.rest("DELETE", f"/studies/{orthanc_id}")
            for _, st, se, sop in instances:
                self._record("delete", st, se, sop)
        return 204, {}, b""

    def _start_export(self, request):
        try:
            spec = json.loads(request.body)
            values = spec["source"]["settings"]["values"]
            assert spec["source"]["type"] == "identifiers" and spec["destination"]["type"] == "azureblob"
            container = urlsplit(spec["destination"]["settings"]["blobContainerUri"]).path.strip("/")
            assert isinstance(values, list) and values and container and self.blob_root is not None
        except (ValueError, KeyError, TypeError, AssertionError):
            return self._json(400, {"error": "invalid export request"})
        operation_id = secrets.token_hex(16)
        now = dt.datetime.now(dt.UTC).isoformat()
        with self._lock:
            self.operations[operation_id] = {
                "operationId": operation_id,
                "type": "export",
                "createdTime": now,
                "lastUpdatedTime": now,
                "status": "notStarted",
                "percentComplete": 0,
                "results": {"exported": 0, "skipped": 0},
            }
        threading.Thread(
            target=self._export, args=(operation_id, values, self.blob_root / container), daemon=True
        ).start()
        href = f"{self.dicom.dicomweb_url}/operations/{operation_id}"
        return (
            202,
            {"Content-Type": "application/json", "Location": href},
            json.dumps({"id": operation_id, "href": href}).encode(),
        )

    def _export(self, operation_id: str, values: list[str], container: Path) -> None:
        operation = self.operations[operation_id]
        errors: list[str] = []
        done = 0
        for i, identifier in enumerate(values):
            operation.update(status="running", percentComplete=int(100 * i / len(values)))
            study = str(identifier).split("/")[0]
            ids = self._lookup(study, "Study")
            if not ids:
                operation["results"]["skipped"] += 1
                errors.append(f"{identifier}: not found")
                continue
            for orthanc_id in ids:
                for instance, st, se, sop in self._instances_of(orthanc_id):
                    time.sleep(self.export_delay)
                    target = container / operation_id / "results" / st / se / f"{sop}.dcm"
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(self.orthanc.rest("GET", f"/instances/{instance}/file").content)
                    done += 1
                    operation["results"]["exported"] = done
        if errors:
            (container / operation_id).mkdir(parents=True, exist_ok=True)
            (container / operation_id / "errors.log").write_text("\n".join(errors))
            operation["results"]["errors"] = errors
        operation.update(
            status="failed" if errors and not done else "completed",
            percentComplete=100,
            lastUpdatedTime=dt.datetime.now(dt.UTC).isoformat(),
        )

    def _operation(self, operation_id: str):
        operation = self.operations.get(operation_id)
        if operation is None:
            return self._json(404, {"error": "operation not found"})
        running = operation["status"] in ("notStarted", "running")
        return self._json(202 if running else 200, dict(operation))

"""A test double of the Cloud Healthcare API's DICOMweb surface, keeping its data in a real Orthanc.

It follows Google's documented contract (the "Using the DICOMweb standard" how-to and the DICOM conformance
statement); it is not Google, and it is used only by the tests:

* OAuth2: ``POST /token`` verifies a service-account JWT assertion (RS256, signed by a key the test made)
  and issues short-lived bearer tokens; ``generateAccessToken`` serves impersonation. Calls without a valid,
  unexpired token get 401.
* Paths ``/{v1|v1beta1}/projects/P/locations/L/datasets/D/dicomStores/S/dicomWeb/...`` map onto Orthanc's
  DICOMweb root. Queries are fully percent-decoded before they are passed on.
* STOW: replies in DICOM XML unless JSON is asked for; an instance already stored is a FailedSOPSequence
  item with FailureReason 272 and FailureDetail "already exists", and the status is 409; ``Storage-Class``
  is checked and recorded; JSON metadata with a JPEG part becomes an instance.
* QIDO: default limits 100/100/1,000, maxima 5,000/5,000/50,000 (over the maximum is a 400); an empty
  result is a 204.
* WADO: single-part ``application/dicom`` for one instance; bulkdata at ``.../bulkdata/{tag path}``;
  rendered accepts only ``viewport``.
* Delete: a study or series delete returns a long-running operation and deletes through Orthanc's REST API
  in the background; the operation has no ``done`` while running; a test can make it slow or failing.
  An instance delete answers ``{}``.
* Pub/Sub notifications: with ``notify`` set (a callable, the Pub/Sub fake's ``publish``), each instance
  stored is published as its DICOMweb path (``projects/.../dicomStores/S/dicomWeb/studies/X/series/Y/
  instances/Z``), as a store's notification config does.
* Faults: ``inject(status, count)`` answers the next requests with 429/503 (and ``Retry-After``).
"""

from __future__ import annotations

import base64
import http.client
import io
import itertools
import json
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit
from xml.sax.saxutils import escape

import pydicom
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate

from tests.fakes.fake_server import FakeServer, Request
from tests.servers.orthanc_server import OrthancServer

STORE_RE = re.compile(
    r"^/(?P<version>v1|v1beta1)/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)"
    r"/datasets/(?P<dataset>[^/]+)/dicomStores/(?P<store>[^/]+)/dicomWeb(?P<rest>/.*)?$"
)
OPERATION_RE = re.compile(
    r"^/(?P<version>v1|v1beta1)/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)"
    r"/datasets/(?P<dataset>[^/]+)/operations/(?P<id>[^/]+)$"
)
IMPERSONATE_RE = re.compile(r"^/v1/projects/-/serviceAccounts/(?P<email>[^/:]+):generateAccessToken$")
QIDO_DEFAULT = {"studies": 100, "series": 100, "instances": 1000}
QIDO_MAX = {"studies": 5000, "series": 5000, "instances": 50000}
STORAGE_CLASSES = {"STANDARD", "NEARLINE", "COLDLINE", "ARCHIVE"}
JPEG_BASELINE = "1.2.840.10008.1.2.4.50"
SCOPE = "https://www.googleapis.com/auth/cloud-platform"
IAM_SCOPE = "https://www.googleapis.com/auth/iam"
# google-auth signs every service-account assertion for Google's token endpoint, wherever it posts it.
TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def google_error(code: int, message: str, status: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message, "status": status}}).encode()


@dataclass
class Operation:
    name: str
    method: str
    created: float
    done: bool = False
    error: dict | None = None
    counter: dict = field(default_factory=dict)


class GoogleEmulator:
    """Start with ``with GoogleEmulator(orthanc) as g:``; ``g.store_url`` is the DICOMweb service root."""

    def __init__(
        self,
        orthanc: OrthancServer,
        project: str = "test-project",
        location: str = "us-central1",
        dataset: str = "test-dataset",
        dicom_store: str = "test-store",
        token_lifetime: int = 3600,
    ) -> None:
        self.orthanc = orthanc
        self.project, self.location, self.dataset, self.dicom_store = project, location, dataset, dicom_store
        self.token_lifetime = token_lifetime
        self.public_keys: dict[str, tuple[str, rsa.RSAPublicKey]] = {}  # key id -> (email, key)
        self.notify = None  # a Pub/Sub fake's publish(data): the store's notifications
        self.tokens: dict[str, float] = {}  # token -> expiry
        self.token_requests = 0
        self.storage_classes: dict[str, str] = {}
        self.operations: dict[str, Operation] = {}
        self.operation_delay: float | None = 0.3  # None: operations run until release_operations()
        self._release = threading.Event()
        self.fail_next_operation: dict | None = None
        self.injected: list[tuple[int, str | None]] = []
        self.injected_count = 0
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.http = FakeServer(self._serve)
        #: The store beyond DICOMweb (tests/emulators/google_store_admin.py), when a test sets it up.
        self.admin = None

    # --- set-up -------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self.http.url

    @property
    def dataset_path(self) -> str:
        return f"projects/{self.project}/locations/{self.location}/datasets/{self.dataset}"

    def store_url(self, version: str = "v1") -> str:
        return f"{self.url}/{version}/{self.dataset_path}/dicomStores/{self.dicom_store}/dicomWeb"

    @property
    def token_uri(self) -> str:
        return f"{self.url}/token"

    def service_account_key(self, email: str = "airflow@test-project.iam.gserviceaccount.com") -> dict:
        """A new service-account JSON key whose public half the token endpoint trusts."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        key_id = uuid.uuid4().hex
        self.public_keys[key_id] = (email, key.public_key())
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        return {
            "type": "service_account",
            "project_id": self.project,
            "private_key_id": key_id,
            "private_key": pem,
            "client_email": email,
            "client_id": "1234567890",
            "token_uri": self.token_uri,
        }

    def inject(self, status: int, count: int = 1, retry_after: str | None = None) -> None:
        """Answer the next ``count`` DICOMweb requests with ``status`` (429, 503...)."""
        with self._lock:
            self.injected += [(status, retry_after)] * count

    def hold_operations(self) -> None:
        """Operations started from now on stay running until :meth:`release_operations`."""
        self._release.clear()
        self.operation_delay = None

    def release_operations(self) -> None:
        self._release.set()

    def expire_tokens(self) -> None:
        """Revoke every token, as if they had expired early: clients must refresh on the 401."""
        with self._lock:
            self.tokens.clear()

    def __enter__(self) -> GoogleEmulator:
        self.http.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.http.__exit__(*exc)

    def _serve(self, request: Request) -> tuple[int, dict, bytes]:
        path = request.path + (f"?{request.query}" if request.query else "")
        return self.handle(request.method, path, request.headers, request.body)

    # --- dispatch -----------------------------------------------------------------------------------

    def handle(self, method: str, raw_path: str, headers: dict, body: bytes) -> tuple[int, dict, bytes]:
        parts = urlsplit(raw_path)
        path = parts.path
        self.requests.append((method, path))
        if path == "/token" and method == "POST":
            return self._token(body)
        if not self._authorized(headers):
            return (
                401,
                {"Content-Type": "application/json", "WWW-Authenticate": "Bearer"},
                google_error(401, "Request had invalid authentication credentials.", "UNAUTHENTICATED"),
            )
        m = IMPERSONATE_RE.match(path)
        if m and method == "POST":
            return self._impersonate(m.group("email"), body)
        with self._lock:
            injected = self.injected.pop(0) if self.injected else None
        if injected:
            self.injected_count += 1
            status, retry_after = injected
            extra = {"Retry-After": retry_after} if retry_after is not None else {}
            return (
                status,
                {"Content-Type": "application/json", **extra},
                google_error(
                    status,
                    "Quota exceeded" if status == 429 else "The service is currently unavailable.",
                    "RESOURCE_EXHAUSTED" if status == 429 else "UNAVAILABLE",
                ),
            )
        m = OPERATION_RE.match(path)
        if m and method == "GET":
            return self._get_operation(m)
        if self.admin is not None:
            answer = self.admin.handle(method, path, body)
            if answer is not None:
                return answer
            m = STORE_RE.match(path)
            if m and m["store"] in self.admin.created_stores:
                child = self.admin.created_stores[m["store"]]
                return child._dicomweb(method, m["version"], m["rest"] or "/", parts.query, headers, body)
        m = STORE_RE.match(path)
        if not m or (m["project"], m["location"], m["dataset"], m["store"]) != (
            self.project,
            self.location,
            self.dataset,
            self.dicom_store,
        ):
            return (
                404,
                {"Content-Type": "application/json"},
                google_error(404, f"{path} not found", "NOT_FOUND"),
            )
        rest = m["rest"] or "/"
        return self._dicomweb(method, m["version"], rest, parts.query, headers, body)

    # --- OAuth2 -------------------------------------------------------------------------------------

    def _token(self, body: bytes) -> tuple[int, dict, bytes]:
        form = dict(parse_qsl(body.decode()))
        self.token_requests += 1

        def refuse(why: str):
            return (
                400,
                {"Content-Type": "application/json"},
                json.dumps({"error": "invalid_grant", "error_description": why}).encode(),
            )

        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return refuse("unsupported grant_type")
        why, email, claims = self.verify_jwt(form.get("assertion", ""))
        if why:
            return refuse(why)
        now = time.time()
        if claims.get("iss") != email or claims.get("aud") != TOKEN_AUDIENCE:
            return refuse("wrong issuer or audience")
        if not claims.get("exp") or claims["exp"] < now or claims.get("iat", now) > now + 60:
            return refuse("assertion expired or not yet valid")
        # cloud-platform for API calls; iam for the source credentials of an impersonation
        if not set(str(claims.get("scope", "")).split()) & {SCOPE, IAM_SCOPE}:
            return refuse("scope missing")
        return (
            200,
            {"Content-Type": "application/json"},
            json.dumps(
                {"access_token": self._issue(), "expires_in": self.token_lifetime, "token_type": "Bearer"}
            ).encode(),
        )

    def verify_jwt(self, token: str) -> tuple[str, str, dict]:
        """A JWT signed by one of the service accounts' keys: (why it is refused, or "", its email, its
        claims)."""
        try:
            header_b64, claims_b64, signature_b64 = token.split(".")
            header = json.loads(b64url_decode(header_b64))
            claims = json.loads(b64url_decode(claims_b64))
        except ValueError:
            return "malformed assertion", "", {}
        if header.get("alg") != "RS256" or header.get("kid") not in self.public_keys:
            return "unknown key", "", {}
        email, public_key = self.public_keys[header["kid"]]
        try:
            public_key.verify(
                b64url_decode(signature_b64),
                f"{header_b64}.{claims_b64}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except Exception:
            return "invalid JWT signature", "", {}
        return "", email, claims

    def _issue(self) -> str:
        token = "ya29.emulator-" + secrets.token_urlsafe(24)
        with self._lock:
            self.tokens[token] = time.time() + self.token_lifetime
        return token

    def _authorized(self, headers: dict) -> bool:
        value = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        if not value.startswith("Bearer "):
            return False
        with self._lock:
            expiry = self.tokens.get(value[7:])
        return expiry is not None and expiry > time.time()

    def _impersonate(self, email: str, body: bytes) -> tuple[int, dict, bytes]:
        request = json.loads(body or b"{}")
        if SCOPE not in request.get("scope", []):
            return (
                400,
                {"Content-Type": "application/json"},
                google_error(400, "scope missing", "INVALID_ARGUMENT"),
            )
        expire = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + self.token_lifetime))
        return (
            200,
            {"Content-Type": "application/json"},
            json.dumps({"accessToken": self._issue(), "expireTime": expire}).encode(),
        )

    # --- Orthanc ------------------------------------------------------------------------------------

    def _orthanc(self, method: str, path: str, headers: dict | None = None, body: bytes | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.orthanc.port, timeout=60)
        auth = base64.b64encode(f"{self.orthanc.username}:{self.orthanc.password}".encode()).decode()
        conn.request(method, path, body=body, headers={"Authorization": f"Basic {auth}", **(headers or {})})
        response = conn.getresponse()
        data = response.read()
        conn.close()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data

    def _rewrite_urls(self, data: bytes, version: str) -> bytes:
        """Orthanc's own URLs (RetrieveURL, BulkDataURI) as this store's URLs."""
        text = data.decode("utf-8", errors="surrogateescape")
        text = text.replace(self.orthanc.dicomweb_url, self.store_url(version))
        text = re.sub(r"/bulk/([0-9a-fA-F/]+)", lambda m: "/bulkdata/" + m.group(1).upper(), text)
        return text.encode("utf-8", errors="surrogateescape")

    # --- DICOMweb -----------------------------------------------------------------------------------

    def _dicomweb(self, method, version, rest, query, headers, body):
        accept = next((v for k, v in headers.items() if k.lower() == "accept"), "")
        segments = [s for s in rest.split("/") if s]
        if method == "POST" and segments and segments[0] == "studies" and len(segments) <= 2:
            return self._stow(version, segments[1] if len(segments) == 2 else None, headers, body, accept)
        if method == "DELETE":
            return self._delete(segments)
        if method != "GET":
            return 405, {}, b""
        if segments and segments[-1] in QIDO_MAX:
            return self._qido(segments, query)
        if "bulkdata" in segments:
            return self._bulkdata(version, segments, accept)
        if segments and segments[-1] == "rendered":
            params = dict(parse_qsl(query))
            if set(params) - {"viewport"}:
                return (
                    400,
                    {"Content-Type": "application/json"},
                    google_error(
                        400, "only the viewport parameter is supported for rendered", "INVALID_ARGUMENT"
                    ),
                )
        if len(segments) == 6 and accept.strip().startswith("application/dicom"):
            return self._single_instance(segments, accept)
        status, out_headers, data = self._orthanc(
            "GET",
            "/dicom-web/" + "/".join(segments) + (f"?{query}" if query else ""),
            {"Accept": accept} if accept else None,
        )
        if segments and segments[-1] == "metadata":
            data = self._rewrite_urls(data, version)
        return status, {"Content-Type": out_headers.get("content-type", "application/json")}, data

    def _qido(self, segments, query):
        level = segments[-1]
        params = parse_qsl(query, keep_blank_values=True)  # fully percent-decoded
        limit = next((v for k, v in params if k == "limit"), None)
        offset = next((v for k, v in params if k == "offset"), "0")
        if limit is not None and int(limit) > QIDO_MAX[level]:
            return (
                400,
                {"Content-Type": "application/json"},
                google_error(
                    400,
                    f"limit {limit} exceeds the maximum of {QIDO_MAX[level]} for {level}",
                    "INVALID_ARGUMENT",
                ),
            )
        if int(offset) > 1_000_000:
            return (
                400,
                {"Content-Type": "application/json"},
                google_error(400, "offset too large", "INVALID_ARGUMENT"),
            )
        params = [(k, v) for k, v in params if k != "limit"] + [("limit", limit or str(QIDO_DEFAULT[level]))]
        # Orthanc does not decode queries: pass decoded values raw (a space cannot be sent raw; '?' matches it).
        raw = "&".join(f"{k}={v.replace(' ', '?')}" for k, v in params)
        status, _headers, data = self._orthanc(
            "GET", "/dicom-web/" + "/".join(segments) + "?" + raw, {"Accept": "application/dicom+json"}
        )
        if status == 200 and json.loads(data or b"[]") == []:
            return 204, {}, b""
        return status, {"Content-Type": "application/dicom+json"}, self._rewrite_urls(data, "v1")

    def _single_instance(self, segments, accept):
        status, headers, data = self._orthanc(
            "GET",
            "/dicom-web/" + "/".join(segments),
            {"Accept": 'multipart/related; type="application/dicom"; transfer-syntax=*'},
        )
        if status != 200:
            return status, {"Content-Type": "application/json"}, data
        parts = split_multipart(data, headers["content-type"])
        ts = pydicom.dcmread(io.BytesIO(parts[0][1]), stop_before_pixels=True).file_meta.TransferSyntaxUID
        return 200, {"Content-Type": f"application/dicom; transfer-syntax={ts}"}, parts[0][1]

    def _bulkdata(self, version, segments, accept):
        index = segments.index("bulkdata")
        path = "/dicom-web/" + "/".join(segments[:index]) + "/bulk/" + "/".join(segments[index + 1 :]).lower()
        status, headers, data = self._orthanc(
            "GET", path, {"Accept": 'multipart/related; type="application/octet-stream"'}
        )
        if status != 200:
            return (
                404,
                {"Content-Type": "application/json"},
                google_error(404, "bulkdata not found", "NOT_FOUND"),
            )
        value = split_multipart(data, headers["content-type"])[0][1]
        if accept.strip().startswith("application/octet-stream"):
            return 200, {"Content-Type": "application/octet-stream; transfer-syntax=*"}, value
        boundary = uuid.uuid4().hex
        body = (
            f"--{boundary}\r\nContent-Type: application/octet-stream\r\n\r\n".encode()
            + value
            + f"\r\n--{boundary}--\r\n".encode()
        )
        return (
            200,
            {"Content-Type": f'multipart/related; type="application/octet-stream"; boundary={boundary}'},
            body,
        )

    # --- STOW ---------------------------------------------------------------------------------------

    def _stow(self, version, study_uid, headers, body, accept):
        lower = {k.lower(): v for k, v in headers.items()}
        storage_class = lower.get("storage-class")
        if storage_class is not None and storage_class not in STORAGE_CLASSES:
            return (
                400,
                {"Content-Type": "application/json"},
                google_error(400, f"invalid Storage-Class {storage_class!r}", "INVALID_ARGUMENT"),
            )
        content_type = lower.get("content-type", "")
        try:
            if content_type.startswith("multipart/related"):
                parts = split_multipart(body, content_type)
            elif content_type.startswith("application/dicom"):
                parts = [({"content-type": "application/dicom"}, body)]
            else:
                raise ValueError(f"unsupported Content-Type {content_type!r}")
            instances = self._instances_from_parts(parts, content_type)
        except ValueError as exc:
            return 400, {"Content-Type": "application/json"}, google_error(400, str(exc), "INVALID_ARGUMENT")
        referenced, failed, to_store = [], [], []
        for sop_class, sop_uid, study, data in instances:
            if study_uid and study != study_uid:
                failed.append((sop_class, sop_uid, 272, "StudyInstanceUID does not match the request"))
            elif self._exists(sop_uid):
                failed.append((sop_class, sop_uid, 272, "Instance already exists"))
            else:
                to_store.append((sop_class, sop_uid, data))
        if to_store:
            boundary = uuid.uuid4().hex
            payload = (
                b"".join(
                    f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode() + d + b"\r\n"
                    for _, _, d in to_store
                )
                + f"--{boundary}--\r\n".encode()
            )
            status, _, data = self._orthanc(
                "POST",
                "/dicom-web/studies",
                {
                    "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
                    "Accept": "application/dicom+json",
                },
                payload,
            )
            stored = set()
            if data.strip():
                response = json.loads(data)
                for item in (response.get("00081199") or {}).get("Value", []):
                    stored.add(item["00081155"]["Value"][0])
            for sop_class, sop_uid, instance in to_store:
                if sop_uid in stored:
                    referenced.append((sop_class, sop_uid))
                    if self.notify is not None:  # the store's Pub/Sub notification: the instance's path
                        header = pydicom.dcmread(io.BytesIO(instance), stop_before_pixels=True)
                        self.notify(
                            f"{self.dataset_path}/dicomStores/{self.dicom_store}/dicomWeb/studies/"
                            f"{header.StudyInstanceUID}/series/{header.SeriesInstanceUID}/instances/{sop_uid}"
                        )
                    if storage_class:
                        self.storage_classes[sop_uid] = storage_class
                else:
                    failed.append((sop_class, sop_uid, 0xC000, "cannot understand"))
        status = 409 if failed else 200
        study_url = f"{self.store_url(version)}/studies/{study_uid or (instances[0][2] if instances else '')}"
        if "application/dicom+json" in accept:
            return (
                status,
                {"Content-Type": "application/dicom+json"},
                stow_json(study_url, referenced, failed),
            )
        return status, {"Content-Type": "application/dicom+xml"}, stow_xml(study_url, referenced, failed)

    def _instances_from_parts(self, parts, content_type):
        """(SOPClassUID, SOPInstanceUID, StudyInstanceUID, Part 10 bytes) of each instance sent."""
        if 'type="application/dicom+json"' in content_type or "type=application/dicom+json" in content_type:
            (meta_headers, meta), *bulk = parts
            if not meta_headers.get("content-type", "").startswith("application/dicom+json"):
                raise ValueError("the first part must be the application/dicom+json metadata")
            by_location = {h.get("content-location"): (h, d) for h, d in bulk}
            out = []
            for dataset in json.loads(meta):
                uri = dataset.get("7FE00010", {}).get("BulkDataURI")
                if uri not in by_location:
                    raise ValueError(f"no part with Content-Location {uri!r}")
                part_headers, jpeg = by_location[uri]
                if not part_headers.get("content-type", "").startswith(
                    "image/jpeg"
                ) or f"transfer-syntax={JPEG_BASELINE}" not in part_headers.get("content-type", ""):
                    raise ValueError(f"bulk part {uri!r} must be image/jpeg; transfer-syntax={JPEG_BASELINE}")
                data = part10_from_json(dataset, jpeg)
                out.append(
                    (
                        dataset["00080016"]["Value"][0],
                        dataset["00080018"]["Value"][0],
                        dataset["0020000D"]["Value"][0],
                        data,
                    )
                )
            return out
        out = []
        for _, data in parts:
            try:
                ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
                out.append((str(ds.SOPClassUID), str(ds.SOPInstanceUID), str(ds.StudyInstanceUID), data))
            except Exception as exc:
                raise ValueError(f"a part is not a DICOM instance: {exc}") from None
        return out

    def _exists(self, sop_uid: str) -> bool:
        _status, _, data = self._orthanc("POST", "/tools/lookup", body=sop_uid.encode())
        return any(item["Type"] == "Instance" for item in json.loads(data or b"[]"))

    # --- delete and operations ------------------------------------------------------------------------

    def _delete(self, segments):
        if len(segments) not in (2, 4, 6) or segments[0] != "studies":
            return (
                400,
                {"Content-Type": "application/json"},
                google_error(400, "bad delete path", "INVALID_ARGUMENT"),
            )
        uid = segments[-1]
        _status, _, data = self._orthanc("POST", "/tools/lookup", body=uid.encode())
        kind = {2: "Study", 4: "Series", 6: "Instance"}[len(segments)]
        found = [item for item in json.loads(data or b"[]") if item["Type"] == kind]
        if not found:
            return (
                404,
                {"Content-Type": "application/json"},
                google_error(404, f"{kind} {uid} not found", "NOT_FOUND"),
            )
        orthanc_path = {"Study": "/studies/", "Series": "/series/", "Instance": "/instances/"}[kind] + found[
            0
        ]["ID"]
        if kind == "Instance":
            self._orthanc("DELETE", orthanc_path)
            return 200, {"Content-Type": "application/json"}, b"{}"
        _, _, info = self._orthanc("GET", orthanc_path + "/instances")
        count = len(json.loads(info or b"[]"))
        name = f"{self.dataset_path}/operations/{next(self._ids)}{secrets.randbelow(10**12)}"
        method = f"google.cloud.healthcare.v1.dicomweb.{'studies.DeleteStudy' if kind == 'Study' else 'studies.series.DeleteSeries'}"
        operation = Operation(name=name, method=method, created=time.time(), counter={"pending": str(count)})
        with self._lock:
            self.operations[name] = operation
            fail, self.fail_next_operation = self.fail_next_operation, None
            delay = self.operation_delay

        def run():
            if delay is None:
                self._release.wait(timeout=120)
            else:
                time.sleep(delay)
            if fail is not None:
                operation.error = fail
                operation.counter = {"failure": str(count)}
            else:
                self._orthanc("DELETE", orthanc_path)
                operation.counter = {"success": str(count)}
            operation.done = True

        threading.Thread(target=run, daemon=True).start()
        return 200, {"Content-Type": "application/json"}, json.dumps({"name": name}).encode()

    def _get_operation(self, m):
        name = (
            f"projects/{m['project']}/locations/{m['location']}/datasets/{m['dataset']}/operations/{m['id']}"
        )
        operation = self.operations.get(name)
        if operation is None:
            return (
                404,
                {"Content-Type": "application/json"},
                google_error(404, f"{name} not found", "NOT_FOUND"),
            )
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(operation.created))
        body: dict = {
            "name": name,
            "metadata": {
                "@type": "type.googleapis.com/google.cloud.healthcare.v1.OperationMetadata",
                "apiMethodName": operation.method,
                "createTime": created,
                "counter": dict(operation.counter),
                "logsUrl": "https://console.cloud.google.com/logs/query",
            },
        }
        if operation.done:  # while running, Google sends no "done" at all
            body["done"] = True
            body["metadata"]["endTime"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            if operation.error:
                body["error"] = operation.error
            else:
                body["response"] = {"@type": "type.googleapis.com/google.protobuf.Empty"}
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()


# --- helpers, written independently of the provider's own code ---------------------------------------


def split_multipart(body: bytes, content_type: str) -> list[tuple[dict, bytes]]:
    """A whole multipart body split in memory (a plain reading of RFC 2046, for this test double only)."""
    m = re.search(r'boundary="?([^";]+)"?', content_type)
    if not m:
        raise ValueError("multipart without boundary")
    delimiter = b"\r\n--" + m.group(1).encode()
    chunks = (b"\r\n" + body).split(delimiter)
    if len(chunks) < 3 or not chunks[-1].startswith(b"--"):
        raise ValueError("malformed multipart body")
    parts = []
    for chunk in chunks[1:-1]:
        head, _, data = chunk[2:].partition(b"\r\n\r\n")
        headers = {}
        for line in head.split(b"\r\n"):
            if b":" in line:
                k, v = line.split(b":", 1)
                headers[k.strip().lower().decode()] = v.strip().decode()
        parts.append((headers, data))
    return parts


def part10_from_json(dataset: dict, jpeg: bytes) -> bytes:
    plain = {k: v for k, v in dataset.items() if k != "7FE00010"}
    ds = Dataset.from_json(plain)
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = JPEG_BASELINE
    ds.PixelData = encapsulate([jpeg])
    ds["PixelData"].VR = "OB"
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def stow_json(study_url: str, referenced, failed) -> bytes:
    out = {"00081190": {"vr": "UR", "Value": [study_url]}}
    if referenced:
        out["00081199"] = {
            "vr": "SQ",
            "Value": [
                {
                    "00081150": {"vr": "UI", "Value": [c]},
                    "00081155": {"vr": "UI", "Value": [u]},
                    "00081190": {"vr": "UR", "Value": [f"{study_url}/instances/{u}"]},
                }
                for c, u in referenced
            ],
        }
    if failed:
        out["00081198"] = {
            "vr": "SQ",
            "Value": [
                {
                    "00081150": {"vr": "UI", "Value": [c]},
                    "00081155": {"vr": "UI", "Value": [u]},
                    "00081197": {"vr": "US", "Value": [r]},
                    "00091097": {"vr": "LO", "Value": [d]},
                }
                for c, u, r, d in failed
            ],
        }
    return json.dumps(out).encode()


def stow_xml(study_url: str, referenced, failed) -> bytes:
    def attr(tag, vr, value):
        return f'<DicomAttribute tag="{tag}" vr="{vr}"><Value number="1">{escape(str(value))}</Value></DicomAttribute>'

    xml = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<NativeDicomModel xmlns="http://dicom.nema.org/PS3.19/models/NativeDICOM">',
        attr("00081190", "UR", study_url),
    ]
    if failed:
        xml.append('<DicomAttribute tag="00081198" vr="SQ" keyword="FailedSOPSequence">')
        for n, (c, u, r, d) in enumerate(failed, 1):
            xml.append(
                f'<Item number="{n}">'
                + attr("00081150", "UI", c)
                + attr("00081155", "UI", u)
                + attr("00081197", "US", r)
                + attr("00090097", "LO", d)
                + "</Item>"
            )
        xml.append("</DicomAttribute>")
    if referenced:
        xml.append('<DicomAttribute tag="00081199" vr="SQ" keyword="ReferencedSOPSequence">')
        for n, (c, u) in enumerate(referenced, 1):
            xml.append(
                f'<Item number="{n}">'
                + attr("00081150", "UI", c)
                + attr("00081155", "UI", u)
                + attr("00081190", "UR", f"{study_url}/instances/{u}")
                + "</Item>"
            )
        xml.append("</DicomAttribute>")
    xml.append("</NativeDicomModel>")
    return "".join(xml).encode()


__all__ = ["GoogleEmulator"]

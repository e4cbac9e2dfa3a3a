"""``auth_type: aws``: AWS Signature Version 4 for AWS HealthImaging's DICOMweb (service
``medical-imaging``), with botocore's own signer (the extra ``[aws]``).

Credentials come from botocore's default chain (environment, shared files, SSO, instance and container
roles), or from ``settings.auth_fields["credentials"]``, a callable returning botocore credentials, which the
Airflow layer supplies from an Airflow AWS connection (``aws_conn_id``); temporary ones are refreshed by
botocore either way. The region is the extra ``region_name``, else read from a
``dicom-medical-imaging.<region>.amazonaws.com`` host. Every request is signed for its own URL only: the
transport checks each URL (redirects included) against the service's origin before it is signed and sent,
so a signature never goes elsewhere. A body is signed by its SHA-256, computed by reading it once before it
is sent (streamed bodies are re-read from their files). The session token is redacted like every secret.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from requests.auth import AuthBase

from airflow_dicomweb.core.auth import AuthType
from airflow_dicomweb.core.connection_field import ConnectionField
from airflow_dicomweb.core.errors import DicomWebAuthError, DicomWebConfigError

if TYPE_CHECKING:
    from airflow_dicomweb.core.settings import DicomWebSettings

SERVICE = "medical-imaging"
EXTRA = "pip install 'airflow-dicomweb[aws]'"
_HOST_REGION = re.compile(r"^dicom-medical-imaging\.([a-z0-9-]+)\.amazonaws\.com$")
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def _botocore() -> Any:
    try:
        import botocore.auth
        import botocore.awsrequest
        import botocore.exceptions
        import botocore.session
    except ImportError:
        raise DicomWebConfigError(f"auth_type 'aws' needs botocore: {EXTRA}") from None
    return botocore


def region_of(settings: DicomWebSettings) -> str | None:
    """The region: the extra ``region_name``, else the one in a HealthImaging host name."""
    given = settings.auth_fields.get("region_name")
    if given:
        return str(given)
    found = _HOST_REGION.match(urlsplit(settings.base_url).hostname or "")
    return found.group(1) if found else None


def _payload_sha256(body: Any) -> str:
    if body is None or body == b"" or body == "":
        return _EMPTY_SHA256
    if isinstance(body, str):
        body = body.encode()
    if isinstance(body, bytes | bytearray | memoryview):
        return hashlib.sha256(body).hexdigest()
    digest = hashlib.sha256()
    chunks = body.iter_bytes() if hasattr(body, "iter_bytes") else body  # the STOW-RS multipart: its bytes
    for chunk in chunks:  # a re-iterable streamed body: read once here
        digest.update(chunk)
    return digest.hexdigest()


class SigV4(AuthBase):
    """Signs each prepared request with botocore's SigV4 signer, without its debug log of signatures."""

    def __init__(self, region: str, source: Callable[[], Any] | None = None) -> None:
        self._credentials: Any = None  # looked up at the first request: constructors do no I/O
        self._source = source
        self._region = region
        self.token = ""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        botocore = _botocore()
        if self._credentials is None:
            self._credentials = (self._source or botocore.session.Session().get_credentials)()
            if self._credentials is None:
                raise botocore.exceptions.NoCredentialsError()
        frozen = self._credentials.get_frozen_credentials()  # refreshed by botocore when temporary
        self.token = frozen.token or ""
        signer = botocore.auth.SigV4Auth(frozen, SERVICE, self._region)
        timestamp = dt.datetime.now(dt.UTC).strftime(botocore.auth.SIGV4_TIMESTAMP)
        for name in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token", "X-Amz-Content-SHA256"):
            request.headers.pop(name, None)
        request.headers["X-Amz-Date"] = timestamp
        request.headers["X-Amz-Content-SHA256"] = _payload_sha256(request.body)
        if frozen.token:
            request.headers["X-Amz-Security-Token"] = frozen.token
        signable = botocore.awsrequest.AWSRequest(
            method=request.method, url=request.url, headers=dict(request.headers)
        )
        signable.context["timestamp"] = timestamp
        canonical = signer.canonical_request(signable)
        signature = signer.signature(signer.string_to_sign(signable, canonical), signable)
        signed = signer.signed_headers(signer.headers_to_sign(signable))
        request.headers["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={signer.scope(signable)}, SignedHeaders={signed}, "
            f"Signature={signature}"
        )
        return request

    def __repr__(self) -> str:
        return "SigV4(<redacted>)"


class AwsAuth(AuthType):
    name = "aws"
    summary = "SigV4 for HealthImaging, botocore's credential chain"
    fields = (
        ConnectionField(
            "region_name",
            "AWS region",
            "With auth_type aws: the region of the HealthImaging data store; default: read from the host.",
        ),
        ConnectionField(
            "aws_conn_id",
            "AWS connection",
            "With auth_type aws: the Airflow AWS connection whose credentials sign the requests; "
            "default: botocore's credential chain.",
        ),
    )

    @classmethod
    def validate(cls, settings: DicomWebSettings) -> None:
        if settings.auth_fields.get(
            "aws_conn_id"
        ):  # the Airflow layer takes it out and reads that connection
            raise DicomWebConfigError(
                "aws_conn_id names an Airflow AWS connection: it is read through the DicomWebHook (or the "
                "command line's --conn-id); without Airflow, credentials come from botocore's default chain"
            )
        if not region_of(settings):
            raise DicomWebConfigError(
                "auth_type 'aws' needs the extra region_name (or a dicom-medical-imaging.<region>.amazonaws.com "
                "host)"
            )

    @property
    def credential_errors(self) -> tuple[type[BaseException], ...]:  # type: ignore[override]
        from botocore.exceptions import BotoCoreError

        return (BotoCoreError,)

    def credential_error(self, exc: BaseException, what: str, reason: str) -> DicomWebAuthError:
        return DicomWebAuthError(f"{what}: could not obtain AWS credentials: {reason}")

    def session(self) -> requests.Session:
        _botocore()  # a missing extra is said before any request
        session = requests.Session()
        session.auth = SigV4(str(region_of(self.settings)), self.settings.auth_fields.get("credentials"))
        return session

    def issued_secrets(self, session: requests.Session) -> list[str]:
        auth = session.auth
        return [auth.token] if isinstance(auth, SigV4) and auth.token else []


AUTH = AwsAuth

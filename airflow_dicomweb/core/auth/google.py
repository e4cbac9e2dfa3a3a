"""``auth_type: google``: OAuth2 for the Cloud Healthcare API, through google-auth.

A service-account key from a file (``key_path``) or from the connection (``keyfile_dict``), optionally
impersonating a chain of accounts, or Application Default Credentials when no key is given. Tokens are
never handled by hand: ``AuthorizedSession`` refreshes them before expiry and once more on a 401. Every
token issued is handed to the transport for redaction.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import requests

from airflow_dicomweb.core import defaults
from airflow_dicomweb.core.auth import AuthType
from airflow_dicomweb.core.connection_field import ConnectionField
from airflow_dicomweb.core.errors import DicomWebAuthError, DicomWebConfigError

if TYPE_CHECKING:
    from google.auth.credentials import Credentials
    from google.auth.transport.requests import AuthorizedSession, Request

    from airflow_dicomweb.core.http.redaction import Redactor
    from airflow_dicomweb.core.settings import DicomWebSettings

DEFAULT_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
#: The extras that name a store instead of a service root URL.
STORE_NAME = ("project", "location", "dataset", "dicom_store")

log = logging.getLogger(__name__)


def _keyfile_info(google: Mapping[str, Any]) -> dict | None:
    raw = google.get("keyfile_dict")
    if raw is None:
        return None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise DicomWebConfigError(
                "keyfile_dict is not valid JSON (expected a service-account key)"
            ) from None
    if not isinstance(raw, Mapping):
        raise DicomWebConfigError("keyfile_dict must be a JSON object (a service-account key)")
    missing = [k for k in ("client_email", "private_key", "token_uri") if not raw.get(k)]
    if missing:
        raise DicomWebConfigError(f"keyfile_dict lacks {', '.join(missing)}: not a service-account key")
    return dict(raw)


def google_credentials(settings: DicomWebSettings) -> Credentials:
    """The google-auth credentials described by the settings' Google fields."""
    import google.auth
    from google.auth import impersonated_credentials
    from google.oauth2 import service_account

    fields = settings.auth_fields
    scopes = [s.strip() for s in str(fields.get("scope") or DEFAULT_SCOPE).split(",") if s.strip()]
    info = _keyfile_info(fields)
    try:
        if info is not None:
            credentials = service_account.Credentials.from_service_account_info(info, scopes=scopes)
        elif fields.get("key_path"):
            credentials = service_account.Credentials.from_service_account_file(
                str(fields["key_path"]), scopes=scopes
            )
        else:
            credentials, _ = google.auth.default(scopes=scopes)
    except FileNotFoundError:
        raise DicomWebConfigError(f"key_path {fields.get('key_path')} does not exist") from None
    except (ValueError, KeyError) as exc:
        raise DicomWebConfigError(f"unusable Google credentials: {type(exc).__name__}") from None
    except google.auth.exceptions.DefaultCredentialsError:
        raise DicomWebConfigError(
            "no Google credentials: set key_path or keyfile_dict, or configure Application Default Credentials"
        ) from None
    chain = fields.get("impersonation_chain")
    if chain:
        accounts = [a.strip() for a in (chain.split(",") if isinstance(chain, str) else chain) if a.strip()]
        credentials = impersonated_credentials.Credentials(
            source_credentials=credentials,
            target_principal=accounts[-1],
            delegates=accounts[:-1],
            target_scopes=scopes,
            iam_endpoint_override=fields.get("iam_endpoint_override") or None,
        )
    return credentials


def regional_access_boundary_lookup(settings: DicomWebSettings) -> bool:
    """Whether google-auth may look up the "regional access boundary" of the credentials.

    The lookup asks ``iamcredentials.googleapis.com/.../allowedLocations`` in the background. Behind a private
    endpoint or in an air-gapped network that host is unreachable, and its failures fill task and triggerer
    logs. So the lookup is refused when the connection names a private ``api_root`` or an
    ``iam_endpoint_override``, unless the extra ``regional_access_boundary`` says otherwise (true or false).

    This decides whether the lookup may go out; whether google-auth makes it is google-auth's own choice,
    which has changed between releases: none before 2.62, always in 2.62, and from 2.63 only when the
    process sets ``GOOGLE_SDK_EXPERIMENTAL_PYTHON_REGIONAL_ACCESS_BOUNDARY_LOOKUP_ENABLED`` (an experimental,
    process-wide switch that this package leaves to the deployment). An explicit ``true`` that google-auth
    will not act on is logged once.
    """
    explicit = settings.auth_fields.get("regional_access_boundary")
    if explicit is not None:
        allowed = str(explicit).strip().lower() in ("true", "1", "yes", "on")
        lookup = _google_auth_lookup()
        if allowed and lookup != "on":
            _warn_once(
                "regional_access_boundary is true, but google-auth %s makes no regional access boundary "
                "lookup%s",
                _google_auth_version(),
                " unless GOOGLE_SDK_EXPERIMENTAL_PYTHON_REGIONAL_ACCESS_BOUNDARY_LOOKUP_ENABLED is true in the "
                "environment"
                if lookup == "opt-in"
                else "",
            )
        return allowed
    api_root = str(settings.auth_fields.get("api_root") or defaults.GOOGLE_API_ROOT).rstrip("/")
    return api_root == defaults.GOOGLE_API_ROOT and not settings.auth_fields.get("iam_endpoint_override")


def _google_auth_lookup() -> str:
    """Whether the installed google-auth looks boundaries up: ``absent`` (before 2.62), ``on`` (2.62, or a
    newer one whose process-wide opt-in is set), or ``opt-in`` (2.63 and newer, not opted in)."""
    try:
        from google.auth import _regional_access_boundary_utils as boundary_utils
    except ImportError:
        return "absent"
    switch = getattr(boundary_utils, "is_regional_access_boundary_lookup_enabled", None)
    return "on" if switch is None or switch() else "opt-in"


def _google_auth_version() -> str:
    from google.auth import version

    return str(version.__version__)


_warned: set[str] = set()


def _warn_once(message: str, *args: object) -> None:
    text = message % args
    if text not in _warned:
        _warned.add(text)
        log.warning(text)


def _auth_request(allow_boundary_lookup: bool) -> Request:
    """google-auth's transport for its own calls (token refresh, boundary lookup), as AuthorizedSession makes
    it by default (a session that retries network errors), refusing the boundary lookup when it is off."""
    import requests
    from google.auth import exceptions
    from google.auth.transport import requests as google_requests

    class AuthRequest(google_requests.Request):
        def __call__(
            self,
            url: str,
            method: str = "GET",
            body: Any = None,
            headers: Any = None,
            timeout: Any = None,
            **kwargs: Any,
        ) -> Any:
            if not allow_boundary_lookup and url.split("?", 1)[0].rstrip("/").endswith("/allowedLocations"):
                raise exceptions.TransportError(
                    "the regional access boundary lookup is off for this connection"
                )
            return super().__call__(url, method=method, body=body, headers=headers, timeout=timeout, **kwargs)

    session = requests.Session()
    session.mount("https://", requests.adapters.HTTPAdapter(max_retries=3))
    return AuthRequest(session)


def authorized_session(settings: DicomWebSettings) -> AuthorizedSession:
    """A ``requests.Session`` that signs every request with a fresh Google access token."""
    from google.auth.transport.requests import AuthorizedSession

    return AuthorizedSession(
        google_credentials(settings), auth_request=_auth_request(regional_access_boundary_lookup(settings))
    )


class GoogleAuth(AuthType):
    name = "google"
    summary = "a service account, or Application Default Credentials"
    fields = (
        ConnectionField(
            "key_path", "Google key file path", "Path of a service-account JSON key (auth_type google)."
        ),
        ConnectionField(
            "keyfile_dict",
            "Google key JSON",
            "The service-account JSON key itself (auth_type google).",
            format="password",
            secret=True,
        ),
        ConnectionField("scope", "Google scopes", "Comma-separated OAuth scopes; default cloud-platform."),
        ConnectionField(
            "impersonation_chain",
            "Google impersonation chain",
            "A service account to impersonate, or a comma-separated chain.",
        ),
        ConnectionField(
            "iam_endpoint_override",
            "Google IAM endpoint",
            "The full URL of generateAccessToken for impersonation (Private Service Connect, say).",
            format="url",
        ),
        ConnectionField(
            "regional_access_boundary",
            "Google regional access boundary lookup",
            "Whether google-auth's background call to iamcredentials.googleapis.com may go out. Default: not "
            "when a private API root or IAM endpoint is set (air-gapped and Private Service Connect setups), "
            "else yes. From google-auth 2.63 the call is made only when the worker sets "
            "GOOGLE_SDK_EXPERIMENTAL_PYTHON_REGIONAL_ACCESS_BOUNDARY_LOOKUP_ENABLED=true.",
            "boolean",
        ),
        ConnectionField(
            "project", "Google project", "With location, dataset and store: names the DICOM store."
        ),
        ConnectionField("location", "Google location", "The store's region, e.g. us-central1."),
        ConnectionField("dataset", "Google dataset", "The store's dataset."),
        ConnectionField("dicom_store", "Google DICOM store", "The store's name."),
        ConnectionField(
            "api_root",
            "Google API root",
            "Default https://healthcare.googleapis.com; a private endpoint's URL otherwise.",
            format="url",
        ),
        ConnectionField(
            "api_version",
            "Google API version",
            "v1 or v1beta1.",
            choices=("v1", "v1beta1"),
            default=defaults.GOOGLE_API_VERSION,
        ),
    )

    @classmethod
    def service_root(cls, extras: Mapping[str, Any]) -> str | None:
        """The DICOMweb root of the store named by ``project``, ``location``, ``dataset`` and ``dicom_store``."""
        if not all(extras.get(k) for k in STORE_NAME):
            return None
        root = str(extras.get("api_root") or defaults.GOOGLE_API_ROOT).rstrip("/")
        version = str(extras.get("api_version") or defaults.GOOGLE_API_VERSION)
        return (
            f"{root}/{version}/projects/{extras['project']}/locations/{extras['location']}"
            f"/datasets/{extras['dataset']}/dicomStores/{extras['dicom_store']}/dicomWeb"
        )

    @classmethod
    def redact(cls, settings: DicomWebSettings, redactor: Redactor) -> None:
        """The key as given, and its private key and key id (a log may show the parsed key)."""
        raw = settings.secret_extras.get("keyfile_dict")
        if isinstance(raw, str):
            redactor.add(raw, announce=False)
            try:
                raw = json.loads(raw)
            except ValueError:
                raw = None
        if isinstance(raw, Mapping):
            for part in (raw.get("private_key"), raw.get("private_key_id")):
                redactor.add(str(part or ""), announce=False)

    @property
    def credential_errors(self) -> tuple[type[BaseException], ...]:  # type: ignore[override]
        from google.auth import exceptions

        return (exceptions.GoogleAuthError,)

    def credential_error(self, exc: BaseException, what: str, reason: str) -> DicomWebAuthError:
        return DicomWebAuthError(
            f"{what}: could not obtain Google credentials: {reason}",
            retryable=bool(getattr(exc, "retryable", False)),
        )

    def session(self) -> requests.Session:
        return authorized_session(self.settings)

    def issued_secrets(self, session: requests.Session) -> list[str]:
        token = getattr(getattr(session, "credentials", None), "token", None)
        return [token] if isinstance(token, str) else []


AUTH = GoogleAuth

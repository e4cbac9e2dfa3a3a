"""``auth_type: azure``: an Entra ID token for Azure's DICOM service, through azure-identity (the extra
``[azure]``).

With a login (the client id), a password (the client secret) and the extra ``tenant_id``, a service
principal signs in; otherwise ``DefaultAzureCredential`` tries its chain: environment variables, workload
identity, managed identity, the Azure CLI. Tokens are for the scope
``https://dicom.healthcareapis.azure.com/.default``; azure-identity renews them before they expire, and a
401 gets one new token and one more try. Every token is handed to the transport for redaction.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import requests
from requests.auth import AuthBase

from airflow_dicomweb.core.auth import AuthType
from airflow_dicomweb.core.connection_field import ConnectionField
from airflow_dicomweb.core.errors import DicomWebAuthError, DicomWebConfigError

if TYPE_CHECKING:
    from airflow_dicomweb.core.settings import DicomWebSettings

SCOPE = "https://dicom.healthcareapis.azure.com/.default"
EXTRA = "pip install 'airflow-dicomweb[azure]'"


def _identity() -> Any:
    try:
        import azure.identity
    except ImportError:
        raise DicomWebConfigError(f"auth_type 'azure' needs azure-identity: {EXTRA}") from None
    return azure.identity


class EntraToken(AuthBase):
    """``Authorization: Bearer <Entra ID token>``, renewed by azure-identity; on a 401, a new credential
    (so a new token, not a cached one) and the request once more. The token is kept out of ``repr``."""

    def __init__(self, make_credential: Any, tenant_id: str | None = None) -> None:
        self._make_credential = make_credential
        self._tenant_id = tenant_id
        self._credential = make_credential()
        self._lock = threading.Lock()
        self.token = ""

    def _token(self) -> str:
        with self._lock:
            if self._tenant_id:
                self.token = self._credential.get_token(SCOPE, tenant_id=self._tenant_id).token
            else:
                self.token = self._credential.get_token(SCOPE).token
            return self.token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token()}"
        request.register_hook("response", self._renew_on_401)
        return request

    def _renew_on_401(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        if response.status_code != 401 or getattr(response.request, "_entra_renewed", False):
            return response
        response.close()
        with self._lock:
            self._credential = self._make_credential()
        again = response.request.copy()
        again.headers["Authorization"] = f"Bearer {self._token()}"
        again._entra_renewed = True  # type: ignore[attr-defined]
        retried = response.connection.send(again, **kwargs)
        retried.history.append(response)
        retried.request = again
        return retried

    def __repr__(self) -> str:
        return "EntraToken(<redacted>)"


class AzureAuth(AuthType):
    name = "azure"
    summary = "an Entra ID token: a service principal, or DefaultAzureCredential"
    fields = (
        ConnectionField(
            "tenant_id",
            "Azure tenant",
            "With auth_type azure: the Entra ID tenant; with a login (the client id) and password (the client "
            "secret), the service principal's. Without a login, DefaultAzureCredential asks this tenant for "
            "its tokens (a managed identity ignores it).",
        ),
    )

    @classmethod
    def validate(cls, settings: DicomWebSettings) -> None:
        if settings.login and not (settings.password and settings.auth_fields.get("tenant_id")):
            raise DicomWebConfigError(
                "auth_type 'azure' with a login (the client id) needs the client secret as the password and "
                "the extra tenant_id; leave the login empty for DefaultAzureCredential"
            )

    @property
    def credential_errors(self) -> tuple[type[BaseException], ...]:  # type: ignore[override]
        from azure.core.exceptions import ClientAuthenticationError

        return (ClientAuthenticationError,)

    def credential_error(self, exc: BaseException, what: str, reason: str) -> DicomWebAuthError:
        return DicomWebAuthError(f"{what}: could not obtain an Entra ID token: {reason}")

    def credential(self) -> Any:
        """The azure-identity credential of the connection (a client secret, or DefaultAzureCredential)."""
        identity = _identity()
        settings = self.settings
        if settings.login:
            return identity.ClientSecretCredential(
                str(settings.auth_fields["tenant_id"]), settings.login, settings.password or ""
            )
        tenant = settings.auth_fields.get("tenant_id")
        if tenant:
            return identity.DefaultAzureCredential(
                exclude_interactive_browser_credential=True, additionally_allowed_tenants=[str(tenant)]
            )
        return identity.DefaultAzureCredential(exclude_interactive_browser_credential=True)

    def session(self) -> requests.Session:
        _identity()  # a missing extra is said before any request
        session = requests.Session()
        tenant = self.settings.auth_fields.get("tenant_id") if not self.settings.login else None
        session.auth = EntraToken(self.credential, str(tenant) if tenant else None)
        return session

    def issued_secrets(self, session: requests.Session) -> list[str]:
        auth = session.auth
        return [auth.token] if isinstance(auth, EntraToken) and auth.token else []


AUTH = AzureAuth

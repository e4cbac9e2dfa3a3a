"""Typed exceptions of the DICOMweb core.

Every message names what is at fault (URL without credentials, UID, file, part of a response) and never
carries a password, token or key: URLs are stripped of user information before they reach a message, and
server messages pass through the transport's redaction of known secrets.
"""

from __future__ import annotations


class DicomWebError(Exception):
    """Base class of every error raised by this package."""


class DicomWebConfigError(DicomWebError, ValueError):
    """The connection or client settings are unusable (missing host, unknown auth type, broken key...)."""


class InvalidUIDError(DicomWebError, ValueError):
    """A value that must be a DICOM UID is not one (PS3.5 9.1)."""


class DicomWebConnectionError(DicomWebError):
    """The server could not be reached, or the connection broke or timed out. Retried by the transport."""

    retryable = True

    def __init__(self, message: str, *, method: str = "", url: str = "") -> None:
        super().__init__(message)
        self.method = method
        self.url = url


class DicomWebAuthError(DicomWebError):
    """Credentials could not be obtained or refreshed (Google's token endpoint refused or failed)."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class DicomWebHTTPError(DicomWebError):
    """The server answered with an HTTP error status."""

    #: statuses worth trying again: the server may answer differently later
    RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})

    def __init__(
        self,
        status: int,
        *,
        method: str,
        url: str,
        server_message: str = "",
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.method = method
        self.url = url
        self.server_message = server_message
        self.retry_after = retry_after
        text = f"{method} {url} failed with HTTP {status}"
        if server_message:
            text += f": {server_message}"
        super().__init__(text)

    @property
    def retryable(self) -> bool:
        return self.status in self.RETRYABLE_STATUSES


class DicomWebNotFoundError(DicomWebHTTPError):
    """HTTP 404: the study, series, instance or resource does not exist on the server."""


class DicomWebDeleteNotSupportedError(DicomWebHTTPError):
    """The server does not implement DICOMweb DELETE (HTTP 405 or 501), as Orthanc's plugin."""

    def __init__(self, status: int, *, method: str, url: str, server_message: str = "") -> None:
        super().__init__(status, method=method, url=url, server_message=server_message)
        self.args = (
            f"{method} {url}: this server does not support DICOMweb delete (HTTP {status}). "
            "Delete through the server's own API instead.",
        )


class DicomWebResponseError(DicomWebError):
    """The server answered, but the answer is malformed or not what was asked for."""

    retryable = False

    def __init__(self, message: str, *, url: str = "", retryable: bool = False) -> None:
        super().__init__(message)
        self.url = url
        self.retryable = retryable


class DicomWebStorageError(DicomWebError):
    """A file or object could not be read, listed or written (a missing bucket, refused credentials...);
    the message names its URL."""

    def __init__(self, message: str, *, url: str = "") -> None:
        super().__init__(message)
        self.url = url


class DicomWebUnsafeUrlError(DicomWebResponseError):
    """A URL (a redirect, a BulkDataURI, an operation name) would take the client's credentials elsewhere
    than the service, or could be read differently by two URL parsers. Never retried."""


class DicomWebResponseTooLargeError(DicomWebResponseError):
    """A response passed its size cap (``max_response_mib``) or expanded like a compression bomb."""


class MultipartError(DicomWebResponseError):
    """A multipart/related body could not be decoded."""


class DicomWebPaginationError(DicomWebResponseError):
    """A search would loop: the server answered the same page again (it ignores ``offset``)."""


class DicomWebOperationError(DicomWebError):
    """A long-running operation finished with an error."""

    def __init__(self, name: str, code: int | None, message: str, details: list | None = None) -> None:
        self.name = name
        self.code = code
        self.message = message
        self.details = details or []
        coded = f" with code {code}" if code is not None else ""
        super().__init__(f"operation {name} failed{coded}: {message}")


class DicomWebOperationTimeoutError(DicomWebError, TimeoutError):
    """A long-running operation did not finish within the time allowed."""

    def __init__(self, name: str, timeout: float, last_state: dict | None = None) -> None:
        self.name = name
        self.timeout = timeout
        self.last_state = last_state or {}
        super().__init__(f"operation {name} still running after {timeout:g} s")


class DimseError(DicomWebError):
    """A DIMSE exchange failed; the message names the peer (``AET@host:port``)."""


class DimseAssociationError(DimseError):
    """No association with the peer: it could not be reached, rejected the association (a wrong AE title,
    say), or aborted it."""


class DimseStatusError(DimseError):
    """The peer answered a DIMSE request with a failure status."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class DimseNotFoundError(DimseError):
    """The peer holds nothing of what was asked for (a C-GET that brought no instance)."""


class DimseContextError(DimseError):
    """The peer accepted the association but none of its presentation contexts: it does not offer the
    service asked for (a C-STORE SCP asked for C-FIND), or not in these transfer syntaxes."""

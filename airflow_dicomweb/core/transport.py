"""The HTTP transport of the core: one pooled session, timeouts, typed errors, redaction and retries.

``send`` makes one attempt and turns every failure into an error of :mod:`.errors`; ``request`` retries
it. A transaction that streams a response (a study download) wraps its whole body in ``retry`` so that a
response cut short is fetched again. Redirects are followed only within the service's origin: a server
cannot send our credentials, or us, to another host.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

import requests
import urllib3.exceptions
from google.auth import exceptions as google_auth_errors
from requests.adapters import HTTPAdapter

from airflow_dicomweb import __version__
from airflow_dicomweb.core.auth import build_session
from airflow_dicomweb.core.errors import (
    DicomWebAuthError,
    DicomWebConnectionError,
    DicomWebDeleteNotSupportedError,
    DicomWebHTTPError,
    DicomWebNotFoundError,
    DicomWebResponseError,
)
from airflow_dicomweb.core.retry import parse_retry_after
from airflow_dicomweb.core.settings import DicomWebSettings

log = logging.getLogger(__name__)
T = TypeVar("T")

READ_CHUNK_SIZE = 1024 * 1024
MAX_ERROR_BODY = 64 * 1024
MAX_REDIRECTS = 5
_TAGS_RE = re.compile(r"<[^>]+>")
_SPACE_RE = re.compile(r"\s+")


def origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


class Transport:
    """Sends requests to one DICOMweb service root."""

    def __init__(self, settings: DicomWebSettings, session: requests.Session | None = None) -> None:
        self.settings = settings
        self.base_url = settings.base_url.rstrip("/")
        self.session = session if session is not None else build_session(settings)
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=max(settings.pool_size, 4), max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.verify = settings.verify
        self.session.headers["User-Agent"] = f"airflow-dicomweb/{__version__}"
        self.session.headers.update(settings.headers)
        self._secrets = settings.secret_values()
        self._origin = origin(self.base_url)

    # --- URLs -----------------------------------------------------------------------------------

    def url(self, *segments: str) -> str:
        """The service root joined with path segments (each percent-encoded; UIDs need nothing)."""
        return "/".join([self.base_url, *(quote(str(s), safe="") for s in segments)])

    def same_origin(self, url: str) -> bool:
        return origin(url) == self._origin

    def resolve(self, uri: str) -> str:
        """A URI a server gave us (BulkDataURI, operation) made absolute and kept on the service's host.

        A relative URI is resolved against the service root. An absolute one on another host is moved onto
        the service root when its path lies under the root's path (a server behind a proxy that names its
        internal host), and refused otherwise: credentials are only ever sent to the configured service.
        """
        absolute = urljoin(self.base_url + "/", uri)
        if self.same_origin(absolute):
            return absolute
        root_path = urlsplit(self.base_url).path.rstrip("/")
        parts = urlsplit(absolute)
        if root_path and (parts.path == root_path or parts.path.startswith(root_path + "/")):
            root = urlsplit(self.base_url)
            return urlunsplit((root.scheme, root.netloc, parts.path, parts.query, ""))
        raise DicomWebResponseError(
            f"refusing to follow {self.redact(absolute)!r}: it is not on the service's host {self._origin[1]}"
        )

    def operation_url(self, name: str) -> str:
        """Where a long-running operation named ``name`` is polled.

        Google: ``{api_root}/{api_version}/{name}``, derived from a service root of the form
        ``.../v1/projects/...``; elsewhere ``operations_root`` from the settings, or the service root.
        """
        if name.startswith(("http://", "https://")):
            return self.resolve(name)
        root = self.settings.operations_root
        if not root:
            path = urlsplit(self.base_url).path
            index = path.find("/projects/")
            if index >= 0:
                parts = urlsplit(self.base_url)
                root = urlunsplit((parts.scheme, parts.netloc, path[:index], "", ""))
            else:
                root = self.base_url
        return root.rstrip("/") + "/" + quote(name.lstrip("/"), safe="/")

    # --- redaction ------------------------------------------------------------------------------

    def redact(self, text: str) -> str:
        """``text`` with every known secret replaced, and user information stripped from URLs."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, "<redacted>")
        return re.sub(r"(https?://)[^/\s:@]+(:[^/\s@]*)?@", r"\1<redacted>@", text)

    # --- requests -------------------------------------------------------------------------------

    def send(
        self,
        method: str,
        url: str,
        *,
        query: str | None = None,
        headers: Mapping[str, str] | None = None,
        data: Any = None,
        stream: bool = False,
        ok: tuple[int, ...] = (200,),
    ) -> requests.Response:
        """One attempt. Returns the response if its status is in ``ok``; raises a typed error otherwise.

        ``query`` is an already-encoded query string, appended as it is.
        """
        full = f"{url}?{query}" if query else url
        for _ in range(MAX_REDIRECTS + 1):
            safe_url = self.redact(full)
            log.debug("%s %s", method, safe_url)
            try:
                response = self.session.request(
                    method,
                    full,
                    headers=dict(headers or {}),
                    data=data,
                    stream=stream,
                    timeout=self.settings.timeout,
                    # Per request: requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override session.verify.
                    verify=self.settings.verify,
                    allow_redirects=False,
                )
            except requests.exceptions.SSLError as exc:
                raise DicomWebConnectionError(
                    f"{method} {safe_url}: TLS error: {self._reason(exc)}", method=method, url=safe_url
                ) from None
            except (requests.ConnectionError, requests.Timeout, urllib3.exceptions.HTTPError) as exc:
                raise self.connection_error(method, safe_url, exc) from None
            except google_auth_errors.GoogleAuthError as exc:
                raise DicomWebAuthError(
                    f"{method} {safe_url}: could not obtain Google credentials: {self._reason(exc)}",
                    retryable=bool(getattr(exc, "retryable", False)),
                ) from None
            if response.is_redirect and response.status_code not in ok:
                location = response.headers.get("Location", "")
                target = urljoin(full, location)
                response.close()
                if not self.same_origin(target):
                    raise DicomWebResponseError(
                        f"{method} {safe_url}: server redirected to another host "
                        f"{urlsplit(target).hostname!r}; not followed",
                        url=safe_url,
                    )
                full = target
                continue
            if response.status_code in ok:
                return response
            raise self.http_error(method, safe_url, response)
        raise DicomWebResponseError(f"{method} {self.redact(url)}: more than {MAX_REDIRECTS} redirects")

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """``send`` with retries; the body is read before returning (no streaming)."""

        def attempt() -> requests.Response:
            response = self.send(method, url, **kwargs)
            try:
                _ = response.content
            except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
                raise self.connection_error(method, self.redact(url), exc) from None
            return response

        return self.retry(attempt)

    def retry(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` under the retry policy of the settings."""
        return self.settings.retry.call(fn)

    def iter_content(self, response: requests.Response, chunk_size: int = READ_CHUNK_SIZE) -> Iterator[bytes]:
        """A streamed response's body in chunks; a broken connection raises a retryable error."""
        try:
            yield from response.iter_content(chunk_size=chunk_size)
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise self.connection_error(
                response.request.method or "GET", self.redact(response.url), exc
            ) from None

    def close(self) -> None:
        self.session.close()

    # --- errors ---------------------------------------------------------------------------------

    def _reason(self, exc: BaseException) -> str:
        text = self.redact(str(exc))
        return text if len(text) <= 300 else text[:300] + "..."

    def connection_error(self, method: str, safe_url: str, exc: BaseException) -> DicomWebConnectionError:
        if isinstance(exc, requests.Timeout | urllib3.exceptions.TimeoutError):
            what = "timed out"
        elif isinstance(exc, requests.exceptions.ChunkedEncodingError | urllib3.exceptions.ProtocolError):
            what = "connection broken while reading the response"
        else:
            what = "connection failed"
        return DicomWebConnectionError(
            f"{method} {safe_url}: {what} ({type(exc).__name__}: {self._reason(exc)})",
            method=method,
            url=safe_url,
        )

    def http_error(self, method: str, safe_url: str, response: requests.Response) -> DicomWebHTTPError:
        status = response.status_code
        message = self.server_message(response)
        if status in (405, 501) and method == "DELETE":
            return DicomWebDeleteNotSupportedError(
                status, method=method, url=safe_url, server_message=message
            )
        if status == 404:
            return DicomWebNotFoundError(status, method=method, url=safe_url, server_message=message)
        return DicomWebHTTPError(
            status,
            method=method,
            url=safe_url,
            server_message=message,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )

    def server_message(self, response: requests.Response) -> str:
        """A short, redacted text of what the server said in an error body (at most 64 KiB read)."""
        try:
            body = b""
            for chunk in response.iter_content(chunk_size=16384):
                body += chunk
                if len(body) >= MAX_ERROR_BODY:
                    break
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError):
            pass
        finally:
            response.close()
        return self.redact(summarize_error_body(body))


def summarize_error_body(body: bytes) -> str:
    """The message of a JSON error (Google's ``error.message``, Orthanc's ``Message``/``Details``) or text."""
    text = body.decode("utf-8", errors="replace").strip()
    if not text:
        return ""
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, list) and data and isinstance(data[0], dict):
        data = data[0]
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and error.get("message"):
            status = f" ({error['status']})" if error.get("status") else ""
            return str(error["message"])[:500] + status
        parts = [str(data[k]) for k in ("Message", "Details", "OrthancError", "message") if data.get(k)]
        if parts:
            return "; ".join(dict.fromkeys(parts))[:500]
    if text.startswith("<"):
        text = _TAGS_RE.sub(" ", text)
    text = _SPACE_RE.sub(" ", text).strip()
    return text[:500] + ("..." if len(text) > 500 else "")

"""The HTTP transport of the core: one pooled session, timeouts, limits, typed errors, redaction, retries.

``send`` makes one attempt and turns every failure into an error of :mod:`.errors`; ``request`` retries
it and reads the body whole, within the size cap. A transaction that streams a response (a study
download) reads it with ``body`` and wraps the whole transaction in ``retry``, so a response cut short is
fetched again. Every URL requested (the first one and each redirect) passes the :class:`UrlPolicy`: the
client's credentials go only to the service's origin. No exception of requests or urllib3 leaves here.
"""

from __future__ import annotations

import http.client
import json
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

import requests
import urllib3.exceptions

from airflow_dicomweb import __version__
from airflow_dicomweb.core.auth import auth_type
from airflow_dicomweb.core.errors import (
    DicomWebConnectionError,
    DicomWebDeleteNotSupportedError,
    DicomWebError,
    DicomWebHTTPError,
    DicomWebNotFoundError,
    DicomWebResponseError,
    DicomWebUnsafeUrlError,
)
from airflow_dicomweb.core.http.redaction import Redactor
from airflow_dicomweb.core.http.response_body import Reply, ResponseLimits, iter_body, read_body
from airflow_dicomweb.core.http.retry import parse_retry_after
from airflow_dicomweb.core.http.sendfile import SendfileAdapter
from airflow_dicomweb.core.http.url_policy import UrlPolicy, operation_path, refuse_ambiguous, shown
from airflow_dicomweb.core.http.url_policy import parse as parse_url_strictly
from airflow_dicomweb.core.settings import DicomWebSettings

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_ERROR_BODY = 64 * 1024
MAX_REDIRECTS = 5
#: Asked of every binary (DICOM, frames, bulk data) download: the bytes as stored, never re-encoded.
IDENTITY = {"Accept-Encoding": "identity"}
_TAGS_RE = re.compile(r"<[^>]+>")
_SPACE_RE = re.compile(r"\s+")
_TRANSPORT_ERRORS = (
    requests.RequestException,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    OSError,
)


class Transport:
    """Sends requests to one DICOMweb service root."""

    def __init__(self, settings: DicomWebSettings, session: requests.Session | None = None) -> None:
        self.settings = settings
        self.base_url = settings.base_url.rstrip("/")
        self.redactor: Redactor = settings.redactor()
        self.policy = UrlPolicy(self.base_url, [settings.operations_root or "", settings.orthanc_root or ""])
        self.auth = auth_type(settings.auth_type)(settings)
        self.session = session if session is not None else self.auth.session()
        adapter = SendfileAdapter(pool_connections=4, pool_maxsize=max(settings.pool_size, 4), max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.verify = settings.verify
        self.session.headers["User-Agent"] = f"airflow-dicomweb/{__version__}"
        self.session.headers.update(settings.headers)
        self._last_token: str | None = None

    @property
    def limits(self) -> ResponseLimits:
        return self.settings.limits

    # --- URLs -----------------------------------------------------------------------------------

    def url(self, *segments: str) -> str:
        """The service root joined with path segments, each percent-encoded but for ``,``: PS3.18 writes
        lists in a path segment (``frames/1,3``) with raw commas, which RFC 3986 allows there, and a server
        need not take ``%2C`` for one. UIDs need nothing."""
        return "/".join([self.base_url, *(quote(str(s), safe=",") for s in segments)])

    def same_origin(self, url: str) -> bool:
        return self.policy.is_allowed(url)

    def resolve(self, uri: str, base: str | None = None) -> str:
        """A URI a server gave us (a BulkDataURI, a link) made absolute and kept on the service's origin.

        A relative URI is resolved as RFC 3986 says: against ``base``, the URL of the response that carried
        it (OHIF's static-wado writes ``./frames`` in an instance's metadata), or the service root when that
        is not known. An absolute one on another origin is moved onto the service root when its path lies
        under the root's path (a server behind a proxy that names its internal host), and refused otherwise:
        credentials only ever go to the configured service.
        """
        # Checked before urljoin, which silently drops tabs and line breaks.
        refuse_ambiguous(uri, "a link from the server")
        absolute = urljoin(base or self.base_url + "/", uri)
        parsed = parse_url_strictly(absolute, "a link from the server")
        if self.policy.is_allowed(absolute):
            return absolute
        root_path = (self.policy.root.path or "").rstrip("/")
        path = parsed.path or ""  # as urllib3 normalizes it: dot segments removed
        if root_path and (path == root_path or path.startswith(root_path + "/")):
            root = urlsplit(self.base_url)
            return urlunsplit((root.scheme, root.netloc, path, parsed.query or "", ""))
        return self.policy.check(absolute, "a link from the server")

    def operation_url(self, name: str) -> str:
        """Where a long-running operation named ``name`` is polled.

        Google: ``{api_root}/{api_version}/{name}``, derived from a service root of the form
        ``.../v1/projects/...``; elsewhere ``operations_root`` from the settings, or the service root. A name
        may not climb out of that root (no ``..``), and a full URL must lie on the service's origin under it.
        """
        root = self.operations_root()
        if name.startswith(("http://", "https://")):
            url = self.policy.check(name, "operation URL")
            root_path = urlsplit(root).path.rstrip("/")
            if not (parse_url_strictly(url, "operation URL").path or "").startswith(root_path + "/"):
                raise DicomWebUnsafeUrlError(
                    f"operation URL {self._shown(name)!r} is not under the operations root; refused"
                )
            return url
        return root.rstrip("/") + "/" + operation_path(name)

    def operations_root(self) -> str:
        root = self.settings.operations_root
        if root:
            return root
        parts = urlsplit(self.base_url)
        index = parts.path.find("/projects/")
        if index >= 0:
            return urlunsplit((parts.scheme, parts.netloc, parts.path[:index], "", ""))
        return self.base_url

    # --- redaction ------------------------------------------------------------------------------

    def redact(self, text: str) -> str:
        """``text`` with every known form of a secret replaced, and user information stripped from URLs."""
        self._track_token()
        return self.redactor.redact(text)

    def _track_token(self) -> None:
        """Access tokens change at each refresh: every token issued is redacted from then on."""
        for token in self.auth.issued_secrets(self.session):
            if token != self._last_token:
                self._last_token = token
                self.redactor.add(token)

    def _shown(self, text: str) -> str:
        return self.redact(shown(text))

    # --- requests -------------------------------------------------------------------------------

    def send(
        self,
        method: str,
        url: str,
        *,
        query: str | None = None,
        headers: Mapping[str, str] | None = None,
        data: Any = None,
        ok: tuple[int, ...] = (200,),
    ) -> requests.Response:
        """One attempt. Returns the response, its body not yet read, if its status is in ``ok``; raises a
        typed error otherwise. ``query`` is an already-encoded query string, appended as it is.
        """
        full = f"{url}?{query}" if query else url
        for _ in range(MAX_REDIRECTS + 1):
            self.policy.check(full, f"{method} to")
            safe_url = self.redact(full)
            log.debug("%s %s", method, safe_url)
            try:
                response = self.session.request(
                    method,
                    full,
                    headers=dict(headers or {}),
                    data=data,
                    stream=True,  # bodies are read by iter_body, within the limits
                    timeout=self.settings.timeout,
                    # Per request: requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override session.verify.
                    verify=self.settings.verify,
                    allow_redirects=False,
                )
            except requests.exceptions.SSLError as exc:
                raise DicomWebConnectionError(
                    f"{method} {safe_url}: TLS error: {self._reason(exc)}", method=method, url=safe_url
                ) from None
            except (requests.exceptions.InvalidHeader, requests.exceptions.InvalidURL, ValueError):
                # The message of these would quote the offending header value: never shown.
                raise DicomWebError(
                    f"{method} {safe_url}: the request could not be made (an invalid header value or URL)"
                ) from None
            except self.auth.credential_errors as exc:
                raise self.auth.credential_error(exc, f"{method} {safe_url}", self._reason(exc)) from None
            except _TRANSPORT_ERRORS as exc:
                raise self.connection_error(method, safe_url, exc) from None
            finally:
                self._track_token()
            if response.is_redirect and response.status_code not in ok:
                location = response.headers.get("Location", "")
                response.close()
                refuse_ambiguous(location, f"{method} {safe_url}: the redirect Location")
                target = urljoin(full, location)
                why = self.policy.refusal(target)
                if why is not None:
                    raise DicomWebUnsafeUrlError(
                        f"{method} {safe_url}: the server redirected to {self._shown(target)!r}: "
                        f"{self.redact(why)}; not followed",
                        url=safe_url,
                    )
                full = target
                continue
            if response.status_code in ok:
                return response
            raise self.http_error(method, safe_url, response)
        raise DicomWebResponseError(f"{method} {self.redact(url)}: more than {MAX_REDIRECTS} redirects")

    def request(self, method: str, url: str, *, binary: bool = False, **kwargs: Any) -> Reply:
        """``send`` with retries; the body is read whole, within ``max_response_mib`` and a deadline of
        twice the read timeout. ``binary`` asks for the body unencoded."""
        if binary:
            kwargs["headers"] = {**IDENTITY, **(kwargs.get("headers") or {})}

        def attempt() -> Reply:
            response = self.send(method, url, **kwargs)
            try:
                body = read_body(
                    response,
                    max_bytes=self.limits.max_bytes,
                    deadline=2 * self.settings.timeout[1],
                    binary=binary,
                    **self._body_args(method, response),
                )
            finally:
                response.close()
            return Reply(response.status_code, response.headers, body, self.redact(response.url))

        return self.retry(attempt)

    def body(
        self,
        response: requests.Response,
        *,
        max_bytes: int | None = None,
        binary: bool = True,
        deadline: float | None = None,
    ) -> Iterator[bytes]:
        """A streamed response's body in chunks, within the speed floor (and ``max_bytes`` and ``deadline``
        if given)."""
        return iter_body(
            response, max_bytes=max_bytes, binary=binary, deadline=deadline, **self._body_args(None, response)
        )

    def _body_args(self, method: str | None, response: requests.Response) -> dict[str, Any]:
        method = method or response.request.method or "GET"
        safe_url = self.redact(response.url)
        return {
            "what": f"{method} {safe_url}",
            "limits": self.limits,
            "error": lambda message, exc: self._read_error(method, safe_url, message, exc),
        }

    def _read_error(
        self, method: str, safe_url: str, message: str, exc: BaseException | None
    ) -> DicomWebConnectionError:
        if exc is not None:
            message += f" ({type(exc).__name__}: {self._reason(exc)})"
        return DicomWebConnectionError(message, method=method, url=safe_url)

    def retry(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` under the retry policy of the settings."""
        return self.settings.retry.call(fn)

    def close(self) -> None:
        self.session.close()

    # --- errors ---------------------------------------------------------------------------------

    def _reason(self, exc: BaseException) -> str:
        text = self.redact(str(exc))
        return text if len(text) <= 300 else text[:300] + "..."

    def connection_error(self, method: str, safe_url: str, exc: BaseException) -> DicomWebConnectionError:
        if isinstance(exc, requests.Timeout | urllib3.exceptions.TimeoutError | TimeoutError):
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
        body = bytearray()
        try:
            for chunk in self.body(response, binary=False):
                body += chunk[: MAX_ERROR_BODY - len(body)]
                if len(body) >= MAX_ERROR_BODY:
                    break
        except DicomWebError:
            pass
        finally:
            response.close()
        return self.redact(summarize_error_body(bytes(body)))


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

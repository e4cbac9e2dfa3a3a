"""Client settings, and how they are read from connection fields (host, login, password, extras).

This module knows nothing of Airflow: the hook hands it the fields of an Airflow Connection, and anything
else (a script, a test) can build :class:`DicomWebSettings` directly.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from airflow_dicomweb.core.errors import DicomWebConfigError, DicomWebUnsafeUrlError
from airflow_dicomweb.core.redaction import Redactor
from airflow_dicomweb.core.response_body import (
    DEFAULT_MAX_RESPONSE_MIB,
    DEFAULT_SPEED_LIMIT,
    DEFAULT_SPEED_TIME,
    MIB,
    ResponseLimits,
)
from airflow_dicomweb.core.retry import RetryPolicy
from airflow_dicomweb.core.url_policy import parse as parse_url_strictly

AUTH_TYPES = ("none", "basic", "bearer", "google")
#: How deletes are made: DICOMweb DELETE, or Orthanc's own REST API (Orthanc's plugin has no DELETE).
DELETE_APIS = ("dicomweb", "orthanc")
DEFAULT_TIMEOUT = (10.0, 300.0)
DEFAULT_GOOGLE_API_ROOT = "https://healthcare.googleapis.com"


@dataclass(frozen=True)
class DicomWebSettings:
    """Everything the core needs to talk to one DICOMweb service. Secrets are kept out of ``repr``."""

    base_url: str
    auth_type: str = "none"
    login: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: tuple[float, float] = DEFAULT_TIMEOUT
    verify: bool | str = True
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    operations_root: str | None = None
    pool_size: int = 16
    caret_as_wildcard: bool = False
    google: Mapping[str, Any] = field(default_factory=dict, repr=False)
    limits: ResponseLimits = field(default_factory=ResponseLimits)
    delete_api: str = "dicomweb"
    orthanc_root: str | None = None

    def __post_init__(self) -> None:
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise DicomWebConfigError(
                f"the DICOMweb service root must be an http(s) URL with a host, got {_safe(self.base_url)!r}"
            )
        if parts.username or parts.password:
            raise DicomWebConfigError("put credentials in login/password, not in the service root URL")
        if self.delete_api not in DELETE_APIS:
            raise DicomWebConfigError(
                f"unknown delete_api {self.delete_api!r}; expected one of {', '.join(DELETE_APIS)}"
            )
        for what, url in (
            ("the service root", self.base_url),
            ("operations_root", self.operations_root),
            ("orthanc_root", self.orthanc_root),
        ):
            if url:
                try:
                    parse_url_strictly(url, what)
                except DicomWebUnsafeUrlError as exc:
                    raise DicomWebConfigError(str(exc)) from None
        for name, value in self.headers.items():
            _refuse_line_breaks(f"the value of header {name!r} in the connection's headers extra", value)
            _refuse_line_breaks("a header name in the connection's headers extra", name)
        if self.auth_type == "bearer":
            _refuse_line_breaks("the bearer token (the connection's password)", self.password or "")
        if self.auth_type not in AUTH_TYPES:
            raise DicomWebConfigError(
                f"unknown auth_type {self.auth_type!r}; expected one of {', '.join(AUTH_TYPES)}"
            )
        if self.auth_type == "basic" and not self.login:
            raise DicomWebConfigError("auth_type 'basic' needs a login")
        if self.auth_type == "bearer" and not self.password:
            raise DicomWebConfigError("auth_type 'bearer' needs the token in the connection's password")

    def redactor(self) -> Redactor:
        """A redactor of every secret of these settings, in every form: the password, the Basic
        credential, the value of every header extra, and the Google key's private key and key id.

        What a connection store masks already (the password, a key JSON) is not announced to listeners;
        the Basic credential and header values are.
        """
        redactor = Redactor()
        if self.auth_type == "basic":
            redactor.add_basic(self.login or "", self.password or "")
        redactor.add(self.password, announce=False)
        for value in self.headers.values():
            redactor.add(value)
        for value in self.secret_values():
            redactor.add(value, announce=False)
        return redactor

    def secret_values(self) -> list[str]:
        """The secrets of these settings as given (:class:`Redactor` derives their other forms)."""
        values = [self.password or ""]
        values += list(self.headers.values())  # any header extra may be a credential (an API key)
        for key in ("keyfile_dict", "private_key"):
            raw = self.google.get(key)
            if isinstance(raw, str):
                values.append(raw)
                try:
                    raw = json.loads(raw)
                except ValueError:
                    raw = None
            if isinstance(raw, Mapping):
                values += [str(raw.get("private_key") or ""), str(raw.get("private_key_id") or "")]
        return [v for v in values if v]

    @classmethod
    def from_connection_fields(
        cls,
        *,
        host: str | None,
        login: str | None = None,
        password: str | None = None,
        port: int | None = None,
        schema: str | None = None,
        extra: Mapping[str, Any] | str | None = None,
    ) -> DicomWebSettings:
        """Build settings from the fields of a connection.

        ``host`` is the full service root (``http://127.0.0.1:8042/dicom-web``). A host without a scheme
        is read as ``https://host[:port]/schema``. For Google, the extras ``project``, ``location``,
        ``dataset`` and ``dicom_store`` may name the store instead of a full URL.
        """
        extras = _parse_extra(extra)
        google_keys = ("project", "location", "dataset", "dicom_store")
        if not host and all(extras.get(k) for k in google_keys):
            root = str(extras.get("api_root") or DEFAULT_GOOGLE_API_ROOT).rstrip("/")
            version = str(extras.get("api_version") or "v1")
            host = (
                f"{root}/{version}/projects/{extras['project']}/locations/{extras['location']}"
                f"/datasets/{extras['dataset']}/dicomStores/{extras['dicom_store']}/dicomWeb"
            )
        if not host or not str(host).strip():
            raise DicomWebConfigError("the connection has no host: set it to the DICOMweb service root URL")
        base_url = _base_url(str(host).strip(), port, schema)
        parts = urlsplit(base_url)
        if parts.username and not login:
            login, password = unquote(parts.username), unquote(parts.password or "")
        base_url = _strip_userinfo(base_url)

        auth_type = str(extras.get("auth_type") or "auto").strip().lower()
        if auth_type == "auto":  # the connection form's default
            auth_type = "basic" if login else "none"
        google_fields = (
            "key_path",
            "keyfile_dict",
            "scope",
            "impersonation_chain",
            "project",
            "location",
            "dataset",
            "dicom_store",
            "api_root",
            "api_version",
            "iam_endpoint_override",
            "regional_access_boundary",
        )
        google = {k: extras[k] for k in google_fields if extras.get(k) not in (None, "")}
        retry = RetryPolicy(
            max_attempts=int(extras.get("max_retries", 5)) + 1,
            max_elapsed=float(extras.get("retry_max_elapsed", 300)),
            initial_wait=float(extras.get("retry_initial_wait", 1)),
            max_wait=float(extras.get("retry_max_wait", 32)),
        )
        return cls(
            base_url=base_url,
            auth_type=auth_type,
            login=login or None,
            password=password or None,
            timeout=_parse_timeout(extras.get("timeout")),
            verify=_parse_verify(extras.get("verify")),
            headers=_parse_headers(extras.get("headers")),
            retry=retry,
            operations_root=extras.get("operations_root") or None,
            pool_size=int(extras.get("pool_size", 16)),
            caret_as_wildcard=_parse_bool(extras.get("caret_as_wildcard"), "caret_as_wildcard"),
            google=google,
            limits=_parse_limits(extras),
            delete_api=str(extras.get("delete_api") or "dicomweb").strip().lower(),
            orthanc_root=extras.get("orthanc_root") or None,
        )


def _safe(url: str) -> str:
    try:
        return _strip_userinfo(url)
    except ValueError:
        return "<unparsable URL>"


def _strip_userinfo(url: str) -> str:
    parts = urlsplit(url)
    if not (parts.username or parts.password):
        return url
    netloc = parts.hostname or ""
    if ":" in netloc:
        netloc = f"[{netloc}]"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _base_url(host: str, port: int | None, schema: str | None) -> str:
    if "://" not in host:
        path = (schema or "").strip("/")
        host = f"https://{host}" + (f":{port}" if port else "") + (f"/{path}" if path else "")
    else:
        parts = urlsplit(host)
        if port and not parts.port and parts.hostname:
            netloc = parts.netloc + f":{port}"
            host = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return host.rstrip("/")


def _parse_extra(extra: Mapping[str, Any] | str | None) -> dict[str, Any]:
    if extra is None or extra == "":
        return {}
    if isinstance(extra, str):
        try:
            extra = json.loads(extra)
        except json.JSONDecodeError as exc:
            raise DicomWebConfigError(f"the connection's extra is not valid JSON: {exc.msg}") from None
    if not isinstance(extra, Mapping):
        raise DicomWebConfigError("the connection's extra must be a JSON object")
    # Airflow's form may prefix fields as extra__dicomweb__name.
    return {str(k).removeprefix("extra__dicomweb__"): v for k, v in extra.items()}


def _parse_timeout(value: Any) -> tuple[float, float]:
    if value in (None, ""):
        return DEFAULT_TIMEOUT
    try:
        if isinstance(value, Mapping):
            return float(value.get("connect", DEFAULT_TIMEOUT[0])), float(
                value.get("read", DEFAULT_TIMEOUT[1])
            )
        if isinstance(value, list | tuple) and len(value) == 2:
            return float(value[0]), float(value[1])
        seconds = float(value)
    except (TypeError, ValueError):
        raise DicomWebConfigError(
            f"timeout must be seconds, [connect, read] or {{connect, read}}: {value!r}"
        ) from None
    if seconds <= 0:
        raise DicomWebConfigError("timeout must be positive")
    return min(seconds, DEFAULT_TIMEOUT[0]), seconds


def _refuse_line_breaks(what: str, value: str) -> None:
    """A header value with CR, LF or NUL would split the request (or be echoed by the HTTP library's error):
    refused, naming the field and never showing the value."""
    if any(c in value for c in "\r\n\0"):
        raise DicomWebConfigError(f"{what} contains a line break or NUL character; remove it")


def _number(extras: Mapping[str, Any], name: str, default: float, minimum: float) -> float:
    value = extras.get(name)
    if value in (None, ""):
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise DicomWebConfigError(f"{name} must be a number, got {value!r}") from None
    if number < minimum:
        raise DicomWebConfigError(f"{name} must be at least {minimum:g}, got {number:g}")
    return number


def _parse_limits(extras: Mapping[str, Any]) -> ResponseLimits:
    return ResponseLimits(
        max_bytes=int(_number(extras, "max_response_mib", DEFAULT_MAX_RESPONSE_MIB, 1 / MIB) * MIB),
        speed_limit=_number(extras, "speed_limit", DEFAULT_SPEED_LIMIT, 0),
        speed_time=_number(extras, "speed_time", DEFAULT_SPEED_TIME, 0.001),
    )


def _parse_bool(value: Any, name: str) -> bool:
    if value in (None, ""):
        return False
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise DicomWebConfigError(f"{name} must be true or false, got {value!r}")


def _parse_verify(value: Any) -> bool | str:
    if value in (None, ""):
        return True
    if isinstance(value, bool):
        return value
    text = str(value).strip()
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    if not os.path.exists(text):
        raise DicomWebConfigError(f"verify names a CA bundle that does not exist: {text}")
    return text


def _parse_headers(value: Any) -> dict[str, str]:
    if value in (None, ""):
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise DicomWebConfigError("headers must be a JSON object of header names to values") from None
    if not isinstance(value, Mapping):
        raise DicomWebConfigError("headers must be a JSON object of header names to values")
    return {str(k): str(v) for k, v in value.items()}

"""Client settings, and how they are read from connection fields (host, login, password, extras).

This module knows nothing of Airflow: the hook hands it the fields of an Airflow Connection, and anything
else (a script, a test) can build :class:`DicomWebSettings` directly.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from airflow_dicomweb.core import defaults
from airflow_dicomweb.core.auth import auth_type
from airflow_dicomweb.core.auth import names as auth_names
from airflow_dicomweb.core.auth import resolve as resolve_auth_type
from airflow_dicomweb.core.errors import DicomWebConfigError, DicomWebUnsafeUrlError
from airflow_dicomweb.core.http.redaction import Redactor
from airflow_dicomweb.core.http.response_body import MIB, ResponseLimits
from airflow_dicomweb.core.http.retry import RetryPolicy
from airflow_dicomweb.core.http.url_policy import parse as parse_url_strictly
from airflow_dicomweb.core.servers import profile_for
from airflow_dicomweb.core.servers.profile import ServerProfile
from airflow_dicomweb.core.viewer_links import check_viewer_template, viewer_link

_REJECTION_CODE = re.compile(r"\A[A-Za-z0-9.\-]{1,16}\^[A-Za-z0-9.\-]{1,16}\Z")


@dataclass(frozen=True)
class DicomWebSettings:
    """Everything the core needs to talk to one DICOMweb service. Secrets are kept out of ``repr``."""

    base_url: str
    auth_type: str = "none"
    login: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: tuple[float, float] = defaults.TIMEOUT
    verify: bool | str = True
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    operations_root: str | None = None
    pool_size: int = defaults.POOL_SIZE
    #: None: as the server profile says (True for Orthanc, else False).
    caret_as_wildcard: bool | None = None
    #: The extras the auth type declares (``AuthType.fields``), as the connection sets them; the Airflow
    #: layer may add others its auth type reads (a credentials source).
    auth_fields: Mapping[str, Any] = field(default_factory=dict, repr=False)
    #: Every extra as the connection sets it: a source of study arrivals reads its own (``ArrivalSource.fields``)
    #: from here, and registers any secret among them with the transport's redactor before it uses it.
    extras: Mapping[str, Any] = field(default_factory=dict, repr=False)
    #: Every extra some auth type declares secret, wherever it is set (redacted whichever auth type is used).
    secret_extras: Mapping[str, Any] = field(default_factory=dict, repr=False)
    limits: ResponseLimits = field(default_factory=ResponseLimits)
    #: None: as the server profile says (``orthanc`` for Orthanc, else ``dicomweb``).
    delete_api: str | None = None
    orthanc_root: str | None = None
    #: With ``delete_api: dcm4chee``: the rejection code, ``CodeValue^CodingSchemeDesignator``.
    rejection_code: str = defaults.REJECTION_CODE
    #: On a 406 to a transfer syntax asked for, retrieve in the server's default instead of failing.
    transfer_syntax_fallback: bool = False
    #: The server profile's name, or ``auto``: told from the service root.
    server: str = defaults.SERVER
    #: A viewer's link to a study: a template with ``{study}`` (and ``{series}``); None: the profile's.
    viewer_url: str | None = None
    #: The server profile the settings resolve to (from ``server`` and the service root).
    profile: ServerProfile = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise DicomWebConfigError(
                f"the DICOMweb service root must be an http(s) URL with a host, got {_safe(self.base_url)!r}"
            )
        if parts.username or parts.password:
            raise DicomWebConfigError("put credentials in login/password, not in the service root URL")
        profile = profile_for(self.server, self.base_url)
        object.__setattr__(self, "profile", profile)
        if self.delete_api is None:
            object.__setattr__(self, "delete_api", profile.delete_api)
        if self.caret_as_wildcard is None:
            object.__setattr__(self, "caret_as_wildcard", profile.caret_as_wildcard)
        if self.delete_api not in defaults.DELETE_APIS:
            raise DicomWebConfigError(
                f"unknown delete_api {self.delete_api!r}; expected one of {', '.join(defaults.DELETE_APIS)}"
            )
        if not _REJECTION_CODE.match(self.rejection_code):
            raise DicomWebConfigError(
                f"rejection_code {self.rejection_code[:40]!r} is not CodeValue^CodingSchemeDesignator "
                f"(for example {defaults.REJECTION_CODE})"
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
        if self.viewer_url:
            check_viewer_template(self.viewer_url)
        for name, value in self.headers.items():
            _refuse_line_breaks(f"the value of header {name!r} in the connection's headers extra", value)
            _refuse_line_breaks("a header name in the connection's headers extra", name)
        auth_type(self.auth_type).validate(self)

    def viewer_link(self, study_instance_uid: str, series_instance_uid: str | None = None) -> str | None:
        """The study's (or series') link in the connection's viewer, or the profile's default; None when
        there is neither."""
        template = self.viewer_url or (
            self.profile.viewer_url(self.base_url) if self.profile.viewer_url else None
        )
        return viewer_link(template, study_instance_uid, series_instance_uid) if template else None

    def redactor(self) -> Redactor:
        """A redactor of every secret of these settings, in every form: the password, the value of every
        header extra, and what each auth type counts as secret (a credential derived from the password, a
        key).

        What a connection store masks already (the password, a key JSON) is not announced to listeners;
        derived forms and header values are.
        """
        redactor = Redactor()
        for name in auth_names():
            auth_type(name).redact(self, redactor)
        redactor.add(self.password, announce=False)
        for value in self.headers.values():  # any header extra may be a credential (an API key)
            redactor.add(value)
        return redactor

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
        is read as ``https://host[:port]/schema``. Without a host, the auth type's extras may name the
        service (``AuthType.service_root``).
        """
        extras = _parse_extra(extra)
        if not host:  # the auth type's extras may name the service
            host = auth_type(resolve_auth_type(extras.get("auth_type"), login)).service_root(extras)
        if not host or not str(host).strip():
            raise DicomWebConfigError("the connection has no host: set it to the DICOMweb service root URL")
        base_url = _base_url(str(host).strip(), port, schema)
        parts = urlsplit(base_url)
        if parts.username and not login:
            login, password = unquote(parts.username), unquote(parts.password or "")
        base_url = _strip_userinfo(base_url)
        auth = resolve_auth_type(extras.get("auth_type"), login)
        retry = RetryPolicy(
            max_attempts=int(extras.get("max_retries", defaults.MAX_RETRIES)) + 1,
            max_elapsed=float(extras.get("retry_max_elapsed", defaults.RETRY_MAX_ELAPSED)),
            initial_wait=float(extras.get("retry_initial_wait", defaults.RETRY_INITIAL_WAIT)),
            max_wait=float(extras.get("retry_max_wait", defaults.RETRY_MAX_WAIT)),
        )
        return cls(
            base_url=base_url,
            auth_type=auth,
            login=login or None,
            password=password or None,
            timeout=_parse_timeout(extras.get("timeout")),
            verify=_parse_verify(extras.get("verify")),
            headers=_parse_headers(extras.get("headers")),
            retry=retry,
            operations_root=extras.get("operations_root") or None,
            pool_size=int(extras.get("pool_size", defaults.POOL_SIZE)),
            caret_as_wildcard=_parse_bool(extras.get("caret_as_wildcard"), "caret_as_wildcard"),
            server=str(extras.get("server") or defaults.SERVER).strip().lower(),
            transfer_syntax_fallback=bool(
                _parse_bool(extras.get("transfer_syntax_fallback"), "transfer_syntax_fallback")
            ),
            auth_fields=auth_type(auth).fields_from(extras),
            extras=dict(extras),
            secret_extras={
                one.name: extras[one.name]
                for name in auth_names()
                for one in auth_type(name).fields
                if one.secret and extras.get(one.name) not in (None, "")
            },
            limits=_parse_limits(extras),
            delete_api=_auto(extras.get("delete_api")),
            orthanc_root=extras.get("orthanc_root") or None,
            viewer_url=str(extras.get("viewer_url") or "").strip() or None,
            rejection_code=str(extras.get("rejection_code") or defaults.REJECTION_CODE),
        )


def _auto(value: Any) -> str | None:
    """A choice whose ``auto`` (or absence) leaves it to the server profile."""
    text = str(value or "").strip().lower()
    return None if text in ("", "auto") else text


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
        return defaults.TIMEOUT
    try:
        if isinstance(value, Mapping):
            return float(value.get("connect", defaults.TIMEOUT[0])), float(
                value.get("read", defaults.TIMEOUT[1])
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
    return min(seconds, defaults.TIMEOUT[0]), seconds


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
        max_bytes=int(_number(extras, "max_response_mib", defaults.MAX_RESPONSE_MIB, 1 / MIB) * MIB),
        speed_limit=_number(extras, "speed_limit", defaults.SPEED_LIMIT, 0),
        speed_time=_number(extras, "speed_time", defaults.SPEED_TIME, 0.001),
    )


def _parse_bool(value: Any, name: str) -> bool | None:
    if value in (None, ""):
        return None
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

"""How requests are authenticated: one module per auth type (the connection extra ``auth_type``), each
filling the small interface :class:`AuthType`, the way httpx's ``Auth`` flows do.

An auth type is a module of this package that defines ``AUTH``, an :class:`AuthType` subclass; its module
name is the extra's value. It declares everything about itself: its connection extras and their fields on the
form (:attr:`AuthType.fields`), how it checks the settings, which values are secrets, and the session it
makes. Adding one is adding a file. Optional dependencies are imported when the auth
type is used, never when this package is, and a missing one raises an error that names the extra to
install.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import requests

from airflow_dicomweb.core import defaults
from airflow_dicomweb.core.connection_field import ConnectionField
from airflow_dicomweb.core.errors import DicomWebAuthError, DicomWebConfigError

if TYPE_CHECKING:
    from airflow_dicomweb.core.http.redaction import Redactor
    from airflow_dicomweb.core.settings import DicomWebSettings


class AuthType:
    """One way of authenticating requests. The transport asks it for a session, for the library errors
    that mean "credentials could not be had", and for the secrets it issued since the last request (tokens
    to redact)."""

    #: The extra's value (the module's name).
    name: ClassVar[str] = ""
    #: What it is, in a few words (the connection form's description of ``auth_type`` lists them).
    summary: ClassVar[str] = ""
    #: The connection extras it reads; they reach it as ``settings.auth_fields``.
    fields: ClassVar[tuple[ConnectionField, ...]] = ()

    def __init__(self, settings: DicomWebSettings) -> None:
        self.settings = settings

    @classmethod
    def fields_from(cls, extras: Mapping[str, Any]) -> dict[str, Any]:
        """Its declared extras that the connection sets (``settings.auth_fields``)."""
        return {f.name: extras[f.name] for f in cls.fields if extras.get(f.name) not in (None, "")}

    @classmethod
    def service_root(cls, extras: Mapping[str, Any]) -> str | None:
        """The service root its extras name, for a connection without a host (None: they name none)."""
        return None

    @classmethod
    def validate(cls, settings: DicomWebSettings) -> None:
        """Refuse settings this auth type cannot work with (raise :class:`DicomWebConfigError`); no I/O."""

    @classmethod
    def redact(cls, settings: DicomWebSettings, redactor: Redactor) -> None:
        """Tell ``redactor`` of the secrets of its fields that the settings carry, whether or not it is the
        auth type in use (a connection store masks them already, so they are not announced)."""
        for one in cls.fields:
            value = settings.secret_extras.get(one.name)
            if one.secret and isinstance(value, str):
                redactor.add(value, announce=False)

    def session(self) -> requests.Session:
        """A session that authenticates every request it sends."""
        return requests.Session()

    #: Exceptions of the auth library that mean credentials could not be obtained or refreshed.
    credential_errors: tuple[type[BaseException], ...] = ()

    def credential_error(self, exc: BaseException, what: str, reason: str) -> DicomWebAuthError:
        """The typed error for one of :attr:`credential_errors`: ``what`` names the request, ``reason`` is
        the library's message, already redacted."""
        return DicomWebAuthError(f"{what}: could not obtain credentials: {reason}")

    def issued_secrets(self, session: requests.Session) -> Iterable[str]:
        """Secrets issued while sending (access tokens), to be redacted from then on."""
        return ()


def names() -> list[str]:
    """Every auth type of this package."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def resolve(name: str | None, login: str | None) -> str:
    """The auth type a connection names; ``auto`` (or none) is basic with a login, else none."""
    text = str(name or defaults.AUTH_TYPE).strip().lower()
    if text == defaults.AUTH_TYPE:
        return "basic" if login else "none"
    return text


def auth_type(name: str) -> type[AuthType]:
    """The auth type called ``name``; a clear error for an unknown one."""
    if name not in names():
        raise DicomWebConfigError(f"unknown auth_type {name!r}; expected one of {', '.join(names())}")
    module = importlib.import_module(f"{__name__}.{name}")
    auth: type[AuthType] = module.AUTH
    return auth

"""``auth_type: basic``: HTTP Basic with the connection's login and password (the transport redacts the
password and its base64 form)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import requests
from requests.auth import HTTPBasicAuth

from airflow_dicomweb.core.auth import AuthType
from airflow_dicomweb.core.errors import DicomWebConfigError

if TYPE_CHECKING:
    from airflow_dicomweb.core.http.redaction import Redactor
    from airflow_dicomweb.core.settings import DicomWebSettings


class BasicAuth(AuthType):
    name = "basic"
    summary = "login and password"

    @classmethod
    def validate(cls, settings: DicomWebSettings) -> None:
        if not settings.login:
            raise DicomWebConfigError("auth_type 'basic' needs a login")

    @classmethod
    def redact(cls, settings: DicomWebSettings, redactor: Redactor) -> None:
        """The password and the Basic credential made with it, in every encoding, when Basic is in use."""
        if settings.auth_type == cls.name:
            redactor.add_basic(settings.login or "", settings.password or "")

    def session(self) -> requests.Session:
        session = requests.Session()
        session.auth = HTTPBasicAuth(self.settings.login or "", self.settings.password or "")
        return session


AUTH = BasicAuth

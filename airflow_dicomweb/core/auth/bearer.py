"""``auth_type: bearer``: a static token, the connection's password, as ``Authorization: Bearer``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import requests
from requests.auth import AuthBase

from airflow_dicomweb.core.auth import AuthType
from airflow_dicomweb.core.errors import DicomWebConfigError

if TYPE_CHECKING:
    from airflow_dicomweb.core.settings import DicomWebSettings


class BearerToken(AuthBase):
    """``Authorization: Bearer <token>``. The token is kept out of ``repr``."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "BearerToken(<redacted>)"


class BearerAuth(AuthType):
    name = "bearer"
    summary = "the token in the password"

    @classmethod
    def validate(cls, settings: DicomWebSettings) -> None:
        token = settings.password or ""
        if any(c in token for c in "\r\n\0"):
            raise DicomWebConfigError(
                "the bearer token (the connection's password) contains a line break or NUL character; remove it"
            )
        if not token:
            raise DicomWebConfigError("auth_type 'bearer' needs the token in the connection's password")

    def session(self) -> requests.Session:
        session = requests.Session()
        session.auth = BearerToken(self.settings.password or "")
        return session


AUTH = BearerAuth

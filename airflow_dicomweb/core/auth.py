"""Authentication of DICOMweb requests: none, HTTP Basic, a static bearer token, or Google OAuth2.

Google credentials are handled by google-auth's ``AuthorizedSession``, which refreshes tokens before they
expire and once more on a 401; see :mod:`airflow_dicomweb.core.google_credentials`.
"""

from __future__ import annotations

import requests
from requests.auth import AuthBase, HTTPBasicAuth

from airflow_dicomweb.core.settings import DicomWebSettings


class BearerAuth(AuthBase):
    """``Authorization: Bearer <token>``. The token is kept out of ``repr``."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "BearerAuth(<redacted>)"


def build_session(settings: DicomWebSettings) -> requests.Session:
    """A session carrying the settings' authentication; Google auth gets an authorized session."""
    if settings.auth_type == "google":
        from airflow_dicomweb.core.google_credentials import authorized_session

        return authorized_session(settings)
    session = requests.Session()
    if settings.auth_type == "basic":
        session.auth = HTTPBasicAuth(settings.login or "", settings.password or "")
    elif settings.auth_type == "bearer":
        session.auth = BearerAuth(settings.password or "")
    return session

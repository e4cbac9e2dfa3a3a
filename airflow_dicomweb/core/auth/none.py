"""``auth_type: none``: requests carry no credentials (a server behind an authenticating proxy, a local one)."""

from __future__ import annotations

from airflow_dicomweb.core.auth import AuthType


class NoAuth(AuthType):
    name = "none"
    summary = "no credentials"


AUTH = NoAuth

"""What each kind of DICOMweb server can do: one module per server (the connection extra ``server``), each
defining ``PROFILE``, a :class:`~airflow_dicomweb.core.servers.profile.ServerProfile`. Adding a server is
adding a file.

``server: auto`` (the default) picks the profile whose ``recognizes`` accepts the service root (Google's
``.../dicomStores/{store}/dicomWeb``), and ``generic`` otherwise.
"""

from __future__ import annotations

import importlib
import pkgutil

from airflow_dicomweb.core import defaults
from airflow_dicomweb.core.errors import DicomWebConfigError
from airflow_dicomweb.core.servers.profile import ServerProfile

#: Modules of this package that hold no profile.
_NOT_PROFILES = {"profile"}


def names() -> list[str]:
    """Every server profile's name (as the ``server`` extra takes it)."""
    return sorted(
        m.name.replace("_", "-")
        for m in pkgutil.iter_modules(__path__)
        if not m.name.startswith("_") and m.name not in _NOT_PROFILES
    )


def profile(name: str) -> ServerProfile:
    """The profile called ``name``; a clear error for an unknown one."""
    if name not in names():
        raise DicomWebConfigError(
            f"unknown server {name!r}; expected {defaults.SERVER} or one of {', '.join(names())}"
        )
    found: ServerProfile = importlib.import_module(f"{__name__}.{name.replace('-', '_')}").PROFILE
    return found


def profile_for(server: str, base_url: str) -> ServerProfile:
    """The profile a connection asks for, or with ``auto`` the one that recognizes its service root."""
    if server != defaults.SERVER:
        return profile(server)
    for name in names():
        candidate = profile(name)
        if candidate.recognizes is not None and candidate.recognizes(base_url):
            return candidate
    return profile("generic")

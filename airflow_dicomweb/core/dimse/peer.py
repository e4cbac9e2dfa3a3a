"""A DIMSE peer: where it listens, the AE titles on both sides, timeouts and TLS. ``dimse://AET@host:port``
names one in a URL (the copy between archives takes it on either side)."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from airflow_dicomweb.core import defaults
from airflow_dicomweb.core.errors import DicomWebConfigError

SCHEME = "dimse"


def check_ae_title(value: str, what: str) -> str:
    """An AE title as PS3.5 allows it (1 to 16 characters of the default repertoire, no backslash or control
    character, not only spaces), stripped of its padding."""
    title = (value or "").strip()
    if not title or len(title) > 16 or any(c == "\\" or ord(c) < 32 or ord(c) > 126 for c in title):
        raise DicomWebConfigError(
            f"{what} must be 1 to 16 printable ASCII characters without a backslash, not {value!r}"
        )
    return title


@dataclass(frozen=True)
class DimsePeer:
    """One DIMSE application entity to associate with."""

    host: str
    port: int
    called_aet: str
    calling_aet: str = defaults.DIMSE_CALLING_AET
    acse_timeout: float = defaults.DIMSE_ACSE_TIMEOUT
    dimse_timeout: float = defaults.DIMSE_DIMSE_TIMEOUT
    network_timeout: float = defaults.DIMSE_NETWORK_TIMEOUT
    #: Where this side listens for a C-MOVE's instances (the peer must know ``calling_aet`` with this port);
    #: None: retrieves use C-GET.
    move_port: int | None = None
    #: The most associations a C-STORE opens with this peer at once (1: one after the other).
    max_associations: int = defaults.DIMSE_MAX_ASSOCIATIONS
    #: A client TLS context (certificate, key and CA from the connection), or None for plain TCP.
    tls: ssl.SSLContext | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "called_aet", check_ae_title(self.called_aet, "the called AE title"))
        object.__setattr__(self, "calling_aet", check_ae_title(self.calling_aet, "the calling AE title"))
        if not self.host or not 0 < int(self.port) < 65536:
            raise DicomWebConfigError(
                f"a DIMSE peer needs a host and a port from 1 to 65535, not {self.host!r}:{self.port!r}"
            )
        if not 1 <= self.max_associations <= 64:
            raise DicomWebConfigError(
                f"max_associations is a number of associations from 1 to 64, not {self.max_associations!r}"
            )

    @property
    def name(self) -> str:
        """``AET@host:port``, for messages."""
        return f"{self.called_aet}@{self.host}:{self.port}"

    @classmethod
    def from_url(cls, url: str, calling_aet: str = defaults.DIMSE_CALLING_AET) -> DimsePeer:
        """The peer ``dimse://CALLED_AET@host:port`` names."""
        parts = urlsplit(url)
        if parts.scheme != SCHEME or not parts.username or not parts.hostname or parts.port is None:
            raise DicomWebConfigError(f"a DIMSE peer is named dimse://CALLED_AET@host:port, not {url!r}")
        if parts.password is not None or parts.path not in ("", "/") or parts.query:
            raise DicomWebConfigError(
                f"a DIMSE peer is named dimse://CALLED_AET@host:port, nothing more: {url!r}"
            )
        return cls(parts.hostname, parts.port, unquote(parts.username), calling_aet)


def is_dimse_url(value: str) -> bool:
    return value.startswith(f"{SCHEME}://")

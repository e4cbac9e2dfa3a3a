"""A ``dimse`` connection: its fields (declared once, for the form and for reading), and the peer they
describe. Host and port are the peer's; the AE titles, timeouts and TLS are extras. The TLS key's
passphrase, if any, is the connection's password."""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Any

from airflow_dicomweb.core import defaults
from airflow_dicomweb.core.connection_field import ConnectionField
from airflow_dicomweb.core.dimse.peer import DimsePeer
from airflow_dicomweb.core.errors import DicomWebConfigError

FIELDS = (
    ConnectionField("called_aet", "Called AE title", "The peer's AE title (1 to 16 characters)."),
    ConnectionField(
        "calling_aet",
        "Calling AE title",
        "This side's AE title; the peer must know it (Orthanc's DicomModalities, a PACS's AE list).",
        default=defaults.DIMSE_CALLING_AET,
    ),
    ConnectionField(
        "acse_timeout", "Association timeout (s)", "How long to wait for an association.", "number",
        default=defaults.DIMSE_ACSE_TIMEOUT,
    ),
    ConnectionField(
        "dimse_timeout", "DIMSE timeout (s)", "How long to wait for an answer to a request.", "number",
        default=defaults.DIMSE_DIMSE_TIMEOUT,
    ),
    ConnectionField(
        "network_timeout", "Network timeout (s)", "How long a silent connection is kept.", "number",
        default=defaults.DIMSE_NETWORK_TIMEOUT,
    ),
    ConnectionField(
        "move_port",
        "C-MOVE port",
        "Retrieve by C-MOVE to this side, listening on this port (the peer must know the calling AE title with "
        "this host and port); empty: by C-GET.",
        "integer",
    ),
    ConnectionField(
        "max_associations",
        "Associations at once",
        "The most associations a C-STORE opens with the peer at once; 1 sends every file on one association "
        "(for a peer that judges a study by its association).",
        "integer",
        default=defaults.DIMSE_MAX_ASSOCIATIONS,
    ),
    ConnectionField("tls_ca", "TLS CA bundle", "Use TLS, verifying the peer with this CA bundle (a path)."),
    ConnectionField("tls_cert", "TLS client certificate", "A client certificate for mutual TLS (a path)."),
    ConnectionField("tls_key", "TLS client key", "Its key (a path); its passphrase is the password."),
)  # fmt: skip


def tls_context(
    ca: str | None, cert: str | None, key: str | None, passphrase: str | None
) -> ssl.SSLContext | None:
    """A client TLS context verifying the peer with ``ca`` (and presenting ``cert``/``key``), or None."""
    if not (ca or cert):
        return None
    context = ssl.create_default_context(cafile=ca) if ca else ssl.create_default_context()
    if cert:
        try:
            context.load_cert_chain(cert, key, password=passphrase or None)
        except (OSError, ssl.SSLError) as exc:
            raise DicomWebConfigError(
                f"the TLS client certificate {cert} could not be loaded: {exc}"
            ) from None
    return context


def peer_from_connection_fields(
    host: str | None, port: int | None, extra: Mapping[str, Any], password: str | None = None
) -> DimsePeer:
    """The peer a ``dimse`` connection describes."""
    if not extra.get("called_aet"):
        raise DicomWebConfigError("a dimse connection needs the peer's AE title: the extra called_aet")
    if not host or not port:
        raise DicomWebConfigError("a dimse connection needs the peer's host and port")

    def seconds(name: str, default: float) -> float:
        try:
            return float(extra.get(name, default))
        except (TypeError, ValueError):
            raise DicomWebConfigError(
                f"the extra {name} is a number of seconds, not {extra.get(name)!r}"
            ) from None

    def count(name: str, default: int) -> int:
        try:
            value = extra.get(name)
            return default if value in (None, "") else int(value)
        except (TypeError, ValueError):
            raise DicomWebConfigError(
                f"the extra {name} is a whole number, not {extra.get(name)!r}"
            ) from None

    return DimsePeer(
        host,
        int(port),
        str(extra["called_aet"]),
        str(extra.get("calling_aet") or defaults.DIMSE_CALLING_AET),
        acse_timeout=seconds("acse_timeout", defaults.DIMSE_ACSE_TIMEOUT),
        dimse_timeout=seconds("dimse_timeout", defaults.DIMSE_DIMSE_TIMEOUT),
        network_timeout=seconds("network_timeout", defaults.DIMSE_NETWORK_TIMEOUT),
        move_port=int(extra["move_port"]) if extra.get("move_port") else None,
        max_associations=count("max_associations", defaults.DIMSE_MAX_ASSOCIATIONS),
        tls=tls_context(extra.get("tls_ca"), extra.get("tls_cert"), extra.get("tls_key"), password),
    )

"""Media types of DICOMweb (PS3.18 section 8.7) and parsing of Content-Type headers."""

from __future__ import annotations

from email.message import Message
from typing import Any

DICOM = "application/dicom"
DICOM_JSON = "application/dicom+json"
DICOM_XML = "application/dicom+xml"
OCTET_STREAM = "application/octet-stream"
MULTIPART_RELATED = "multipart/related"
JSON = "application/json"
RENDERED_TYPES = frozenset({"image/png", "image/jpeg", "image/gif"})


def parse_content_type(value: str | None) -> tuple[str, dict[str, str]]:
    """Split a Content-Type value into its lower-cased media type and its parameters.

    Parameters may be quoted and may hold ``;`` inside quotes (Orthanc sends
    ``type="application/octet-stream; transfer-syntax=..."``); the standard library's MIME parser
    handles that. Parameter names are lower-cased, values are kept as sent.
    """
    if not value:
        return "", {}
    message = Message()
    message["content-type"] = value
    params: list[tuple[str, Any]] = list(message.get_params(failobj=[]) or [])
    media_type = params[0][0].strip().lower() if params else ""
    out: dict[str, str] = {}
    for name, val in params[1:]:
        if isinstance(val, tuple):  # RFC 2231 encoded value
            val = val[2]
        out[name.strip().lower()] = str(val)
    return media_type, out


def multipart_accept(part_type: str, transfer_syntax: str | None = None) -> str:
    """An Accept value asking for ``multipart/related`` with parts of ``part_type``."""
    value = f'{MULTIPART_RELATED}; type="{part_type}"'
    if transfer_syntax:
        value += f"; transfer-syntax={transfer_syntax}"
    return value

"""Transfer syntaxes a retrieve may ask for, by UID or by name: ``*`` is the bytes as stored (the default);
the others are what servers transcode to, HTJ2K among them (AWS HealthImaging stores it)."""

from __future__ import annotations

from airflow_dicomweb.core.uids import validate_uid

#: name -> UID (PS3.6 Table A-1)
NAMED = {
    "explicit-vr-little-endian": "1.2.840.10008.1.2.1",
    "implicit-vr-little-endian": "1.2.840.10008.1.2",
    "jpeg-baseline": "1.2.840.10008.1.2.4.50",
    "jpeg-lossless": "1.2.840.10008.1.2.4.70",
    "jpeg-ls-lossless": "1.2.840.10008.1.2.4.80",
    "jpeg-ls": "1.2.840.10008.1.2.4.81",
    "jpeg-2000-lossless": "1.2.840.10008.1.2.4.90",
    "jpeg-2000": "1.2.840.10008.1.2.4.91",
    "htj2k-lossless": "1.2.840.10008.1.2.4.201",
    "htj2k-lossless-rpcl": "1.2.840.10008.1.2.4.202",
    "htj2k": "1.2.840.10008.1.2.4.203",
}


def transfer_syntax_uid(value: str | None) -> str | None:
    """``*``, a UID, or a name of :data:`NAMED` as the UID to ask for; None lets the server choose."""
    if value is None or value == "*":
        return value
    text = value.strip()
    if text.lower() in NAMED:
        return NAMED[text.lower()]
    if text[:1].isdigit():
        return validate_uid(text, "transfer_syntax")
    raise ValueError(f"transfer_syntax {value!r} is not *, a UID, or one of {', '.join(NAMED)}")

"""DICOM UID validation (PS3.5 section 9.1).

A UID is at most 64 characters: non-empty components of digits separated by single dots. UIDs become URL
path segments and file names, so nothing else may pass (no letters, no ``..``, no ``/``, no empty value).
PS3.5 also forbids leading zeros in a component; archives in the wild hold such UIDs, and they are
harmless in a path, so they are accepted rather than making those instances unreachable.
"""

from __future__ import annotations

import re

from airflow_dicomweb.core.errors import InvalidUIDError

MAX_UID_LENGTH = 64
_UID_RE = re.compile(r"^[0-9]+(\.[0-9]+)*\Z")


def is_valid_uid(value: object) -> bool:
    """Whether ``value`` is a string that is a valid DICOM UID."""
    return isinstance(value, str) and len(value) <= MAX_UID_LENGTH and bool(_UID_RE.match(value))


def validate_uid(value: object, what: str = "UID") -> str:
    """Return ``value`` if it is a valid DICOM UID, else raise :class:`InvalidUIDError` naming it."""
    if not isinstance(value, str):
        raise InvalidUIDError(f"{what} must be a string, got {type(value).__name__}: {value!r:.80}")
    if not value:
        raise InvalidUIDError(f"{what} is empty")
    if len(value) > MAX_UID_LENGTH:
        raise InvalidUIDError(f"{what} {value[:80]!r} is {len(value)} characters long (at most 64)")
    if not _UID_RE.match(value):
        raise InvalidUIDError(
            f"{what} {value[:80]!r} is not a DICOM UID (digits in components separated by single dots)"
        )
    return value


def resource_segments(study: str, series: str | None = None, instance: str | None = None) -> list[str]:
    """The validated path segments of a study, series or instance resource (``studies/{uid}/series/...``)."""
    segments = ["studies", validate_uid(study, "study_instance_uid")]
    if series is not None:
        segments += ["series", validate_uid(series, "series_instance_uid")]
    if instance is not None:
        if series is None:
            raise ValueError("an instance needs its series_instance_uid")
        segments += ["instances", validate_uid(instance, "sop_instance_uid")]
    return segments

"""The options of the Basic Application Level Confidentiality Profile a user may ask to retain (PS3.15 Table
E.1-1's option columns, named after the standard's), each with its code in DeidentificationMethodCodeSequence
(PS3.16 CID 7050)."""

from __future__ import annotations

import enum
from collections.abc import Iterable

from airflow_dicomweb.core.errors import DicomWebConfigError

#: The profile itself: (113100, DCM) "Basic Application Confidentiality Profile".
BASIC_PROFILE_CODE = ("113100", "Basic Application Confidentiality Profile")


class RetainOption(enum.Enum):
    """An option of the profile; its value is the name a user gives (``--retain dates-modified``)."""

    DATES_MODIFIED = "dates-modified"
    UIDS = "uids"
    DEVICE_IDENTITY = "device-identity"
    PATIENT_CHARACTERISTICS = "patient-characteristics"

    @property
    def code(self) -> tuple[str, str]:
        """(code value, code meaning) in the DCM coding scheme."""
        return _CODES[self]


_CODES = {
    RetainOption.DATES_MODIFIED: ("113107", "Retain Longitudinal Temporal Information Modified Dates Option"),
    RetainOption.UIDS: ("113110", "Retain UIDs Option"),
    RetainOption.DEVICE_IDENTITY: ("113109", "Retain Device Identity Option"),
    RetainOption.PATIENT_CHARACTERISTICS: ("113108", "Retain Patient Characteristics Option"),
}

#: Every name ``--retain`` takes.
RETAIN_NAMES = tuple(option.value for option in RetainOption)


def parse_retain(names: Iterable[str | RetainOption] | str | None) -> frozenset[RetainOption]:
    """The options named (``"uids"``, ``"dates-modified, uids"``, or the enum); an unknown name is a
    :class:`DicomWebConfigError` naming it and every name known."""
    if names is None:
        return frozenset()
    if isinstance(names, str):
        names = [part for part in names.replace(",", " ").split() if part]
    found: set[RetainOption] = set()
    for name in names:
        if isinstance(name, RetainOption):
            found.add(name)
            continue
        try:
            found.add(RetainOption(str(name).strip().lower()))
        except ValueError:
            raise DicomWebConfigError(
                f"unknown de-identification option {str(name)[:40]!r}: one of {', '.join(RETAIN_NAMES)}"
            ) from None
    return frozenset(found)

"""The dummy value of action D for each value representation (PS3.5 6.2): short, valid for the VR, and
carrying nothing of the original."""

from __future__ import annotations

from typing import Any

#: The text put where action D replaces free text, a name or a code string.
DUMMY_TEXT = "REMOVED"

_DUMMIES: dict[str, Any] = {
    "AE": DUMMY_TEXT,
    "AS": "000D",
    "CS": DUMMY_TEXT,
    "DA": "19000101",
    "DS": "0",
    "DT": "19000101000000",
    "IS": "0",
    "LO": DUMMY_TEXT,
    "LT": DUMMY_TEXT,
    "PN": DUMMY_TEXT + "^",  # a family name (PS3.5 6.2.1)
    "SH": DUMMY_TEXT,
    "ST": DUMMY_TEXT,
    "TM": "000000",
    "UC": DUMMY_TEXT,
    "UR": "",
    "UT": DUMMY_TEXT,
    "FL": 0.0,
    "FD": 0.0,
    "SL": 0,
    "SS": 0,
    "UL": 0,
    "US": 0,
    "SV": 0,
    "UV": 0,
}


def dummy_value(vr: str) -> Any:
    """The dummy of ``vr``; binary and unknown VRs get an empty value (nothing to carry identity)."""
    return _DUMMIES.get(vr, b"" if vr in {"OB", "OD", "OF", "OL", "OV", "OW", "UN"} else None)

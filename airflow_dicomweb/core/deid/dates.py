"""Dates and date-times moved by whole days (``dates-modified``): intervals within a patient are kept, the
time of day is kept, and a value that cannot be read as a date is reported so the caller can remove it."""

from __future__ import annotations

import datetime as dt

_DA_LENGTH = 8


def shift_da(value: str, days: int) -> str | None:
    """``YYYYMMDD`` moved back ``days`` days; None if ``value`` is not a full date."""
    text = value.strip()
    if len(text) != _DA_LENGTH or not text.isdigit():
        return None
    try:
        day = dt.date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None
    try:
        return (day - dt.timedelta(days=days)).strftime("%Y%m%d")
    except OverflowError:
        return None


def shift_dt(value: str, days: int) -> str | None:
    """A DT value (``YYYYMMDD`` then anything: time, fraction, offset) with its date moved back; None if it
    does not start with a full date."""
    text = value.strip()
    shifted = shift_da(text[:_DA_LENGTH], days)
    if shifted is None:
        return None
    return shifted + text[_DA_LENGTH:]

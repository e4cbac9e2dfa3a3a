"""QIDO-RS query strings (PS3.18 section 10.6.1).

Attributes are named by keyword (``PatientName``) or by tag (``00100010``); an unknown keyword is refused
here, because servers ignore unknown keys, and a typo would otherwise match everything. Values are
percent-encoded per RFC 3986 except for ``*``, ``?`` and ``,``, which stay raw: they are legal in a query,
they carry QIDO's wildcards and value lists, and some servers (Orthanc) do not percent-decode queries.

``^``, the separator of person-name components, must be encoded (``%5E``), and a server that does not
decode it (Orthanc's Debian build) then matches nothing. ``caret_as_wildcard`` sends ``?`` in its place,
which matches any one character there, and so the same names.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from urllib.parse import quote

from pydicom.datadict import tag_for_keyword

_TAG_RE = re.compile(r"^\(?([0-9A-Fa-f]{4}),?([0-9A-Fa-f]{4})\)?$")
# Characters kept raw in values, in addition to the RFC 3986 unreserved ones quote() never encodes.
_SAFE = "*?,"

FilterValue = str | int | float | dt.date | dt.datetime | dt.time | Iterable[str]


def normalize_attribute(name: str) -> str:
    """A keyword as given, or a tag as 8 upper-case hex digits; anything else raises ValueError.

    ``00100010``, ``(0010,0010)`` and ``0010,0010`` are tags; dotted sequence paths
    (``00081111.00081150``) are passed through attribute by attribute.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"empty attribute name {name!r} in a QIDO query")
    if "." in name:
        return ".".join(normalize_attribute(p) for p in name.split("."))
    m = _TAG_RE.match(name.strip())
    if m:
        return (m.group(1) + m.group(2)).upper()
    if tag_for_keyword(name) is None:
        raise ValueError(f"unknown DICOM keyword {name!r} in a QIDO query (use a keyword or an 8-digit tag)")
    return name


def format_value(value: FilterValue) -> str:
    """A filter value as QIDO text: dates as YYYYMMDD, lists as comma-separated values."""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y%m%d%H%M%S")
    if isinstance(value, dt.date):
        return value.strftime("%Y%m%d")
    if isinstance(value, dt.time):
        return value.strftime("%H%M%S")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return value
    if isinstance(value, Iterable):
        return ",".join(format_value(v) for v in value)
    raise ValueError(f"unsupported QIDO filter value {value!r}")


def encode(text: str) -> str:
    return quote(text, safe=_SAFE)


def build_query(
    filters: Mapping[str, FilterValue] | None = None,
    includefield: Iterable[str] | str | None = None,
    fuzzymatching: bool = False,
    limit: int | None = None,
    offset: int = 0,
    caret_as_wildcard: bool = False,
) -> str:
    """The query string (without ``?``) of a QIDO-RS search, already encoded."""
    params: list[tuple[str, str]] = []
    for name, value in (filters or {}).items():
        text = format_value(value)
        if caret_as_wildcard:
            text = text.replace("^", "?")
        params.append((normalize_attribute(name), text))
    if includefield:
        fields = [includefield] if isinstance(includefield, str) else list(includefield)
        if any(f.strip().lower() == "all" for f in fields):
            params.append(("includefield", "all"))
        else:
            params.append(("includefield", ",".join(normalize_attribute(f) for f in fields)))
    if fuzzymatching:
        params.append(("fuzzymatching", "true"))
    if limit is not None:
        params.append(("limit", str(int(limit))))
    if offset:
        params.append(("offset", str(int(offset))))
    return "&".join(f"{encode(k)}={encode(v)}" for k, v in params)

"""PS3.15 Table E.1-1, the Basic Application Level Confidentiality Profile, as data (``table_e1_1.json``):
each attribute the standard lists, its action under the basic profile, and its action under each option a
user may retain. Private attributes (odd groups) are removed by rule, not listed.

Actions (PS3.15 E.1.1): ``D`` a dummy value, ``Z`` empty, ``X`` removed, ``K`` kept, ``C`` cleaned (for
dates under ``dates-modified``: shifted), ``U`` a replacement UID consistent within the data set. Where the
table leaves a choice (``X/Z``, ``X/D``, ``Z/D``, ``X/Z/D``), the choice that keeps an instance valid
without knowing its IOD is taken: ``Z`` for ``X/Z`` and ``D`` where a ``D`` is allowed, so a Type 1
attribute never goes missing. ``X/Z/U*`` (a sequence of references) keeps its items with their UIDs
replaced.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

from airflow_dicomweb.core.deid.options import RetainOption

#: The choice taken where the table leaves one (see the module's docstring).
_RESOLVED = {"X/Z": "Z", "X/D": "D", "Z/D": "D", "X/Z/D": "D", "X/Z/U*": "U"}
#: Attributes the table does not list whose value is free text a person writes into a structured report:
#: replaced by a dummy value like the Content Sequence that holds them (action D of (0040,A730)).
FREE_TEXT_IN_CONTENT = {0x0040A160: "Text Value"}


@dataclass(frozen=True, slots=True)
class TableRow:
    """One attribute of the table: its basic action and the action of each option that changes it."""

    tag: str
    name: str
    basic: str
    options: dict[RetainOption, str] = field(default_factory=dict)

    def action(self, retain: frozenset[RetainOption]) -> str:
        """The action for this attribute with ``retain``: an option's ``K`` or ``C`` wins over the basic
        action. ``C`` of an option other than ``dates-modified`` (free text and AE titles, which cannot be
        cleaned safely without reading them) falls back to the basic action."""
        for option in retain:
            chosen = self.options.get(option)
            if chosen == "K":
                return "K"
            if chosen == "C" and option is RetainOption.DATES_MODIFIED:
                return "C"
        return _RESOLVED.get(self.basic, self.basic)


@dataclass(frozen=True, slots=True)
class ProfileTable:
    """The table by tag, and its three rows that name a group pattern (curves, overlays)."""

    rows: dict[int, TableRow]
    curve_groups: TableRow  # (50xx,xxxx)
    overlay_rows: dict[int, TableRow]  # (60xx,3000), (60xx,4000) by element

    def row(self, tag: int) -> TableRow | None:
        """The row for ``tag``, or None where the table does not list it."""
        found = self.rows.get(tag)
        if found is not None:
            return found
        group = tag >> 16
        if 0x5000 <= group <= 0x50FF and group % 2 == 0:
            return self.curve_groups
        if 0x6000 <= group <= 0x60FF and group % 2 == 0:
            return self.overlay_rows.get(tag & 0xFFFF)
        return None


@cache
def profile_table() -> ProfileTable:
    """The table, read once from the package's data."""
    text = resources.files(__package__).joinpath("table_e1_1.json").read_text(encoding="utf-8")
    rows: dict[int, TableRow] = {}
    curve: TableRow | None = None
    overlays: dict[int, TableRow] = {}
    for entry in json.loads(text):
        options = {option: entry[option.value] for option in RetainOption if option.value in entry}
        row = TableRow(entry["tag"], entry["name"], entry["basic"], options)
        tag = entry["tag"]
        if tag == "50XXXXXX":
            curve = row
        elif tag.startswith("60XX"):
            overlays[int(tag[4:], 16)] = row
        else:
            rows[int(tag, 16)] = row
    if curve is None:
        raise RuntimeError("table_e1_1.json has no row for curve data (50xx,xxxx)")
    return ProfileTable(rows, curve, overlays)

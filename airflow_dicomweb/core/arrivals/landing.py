"""Which studies arrived and settled in a landing location: the folder or object-store prefix the DIMSE
gateway (``dicomweb receive --dest``) or a retrieve writes ``{study}/{series}/{sop}.dcm`` into, files
appearing only once whole.

Each poll lists the location once and counts each study's files: a count that changed restarts the study's
clock (:mod:`.settling`), and a study is announced once no new file of it has appeared for
``settle_seconds``. The event's attributes come from the header of the study's first file (no pixel data is
read); ``NumberOfStudyRelatedInstances`` and ``NumberOfStudyRelatedSeries`` from the files. The watcher's
``filters`` are matched against those attributes: a value equal, or a ``*``/``?`` pattern, or a ``A-B``
range of dates. The first poll takes what is there as the baseline, unless ``announce_existing``.

The location is the connection's extra ``landing_path``. A poll's cost grows with the files there: keep the
landing location for what is arriving, and move studies on once they are announced.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pydicom

from airflow_dicomweb.core.arrivals.event import announce_settled
from airflow_dicomweb.core.arrivals.settling import Ledger
from airflow_dicomweb.core.arrivals.source import ArrivalSource, Cursor, WatchOptions
from airflow_dicomweb.core.connection_field import ConnectionField
from airflow_dicomweb.core.errors import DicomWebConfigError, InvalidUIDError
from airflow_dicomweb.core.qido.query import FilterValue
from airflow_dicomweb.core.storage.paths import StoragePath, as_path, files, open_read
from airflow_dicomweb.core.uids import validate_uid

log = logging.getLogger(__name__)
KIND = "landing"


@dataclass
class LandingCursor:
    """Each study's progress, and whether a baseline was taken."""

    ledger: Ledger = field(default_factory=Ledger)
    started: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"version": 1, "kind": KIND, "started": self.started, "ledger": self.ledger.to_json()}

    @classmethod
    def from_json(cls, data: Any) -> LandingCursor:
        if not isinstance(data, dict) or data.get("version") != 1 or data.get("kind") != KIND:
            raise ValueError(f"not a landing cursor: {str(data)[:100]!r}")
        return cls(Ledger.from_json(data.get("ledger")), bool(data.get("started")))


class LandingIndex:
    """What a landing location holds, listed once: each study's files, by series; and searches answered from
    them as QIDO-RS would answer them (:class:`~.event.Searches`)."""

    def __init__(self, location: StoragePath) -> None:
        self.location = location
        self.studies: dict[str, dict[str, list[StoragePath]]] = {}
        prefix = len(str(location).rstrip("/")) + 1
        for path, _ in files(location):
            parts = str(path)[prefix:].split("/")
            if len(parts) != 3 or not parts[2].endswith(".dcm"):
                continue  # not an instance in place (a temporary file, something else)
            try:
                study, series = (
                    validate_uid(parts[0], "a study folder"),
                    validate_uid(parts[1], "a series folder"),
                )
            except InvalidUIDError:
                continue
            self.studies.setdefault(study, {}).setdefault(series, []).append(path)

    def count(self, study: str) -> int:
        return sum(len(paths) for paths in self.studies.get(study, {}).values())

    def iter_search(
        self,
        level: str,
        *,
        filters: Mapping[str, FilterValue] | None = None,
        includefield: Iterable[str] | str | None = None,
        page_size: int | None = None,
    ) -> Iterator[dict]:
        wanted = dict(filters or {})
        study = str(wanted.pop("StudyInstanceUID", ""))
        if level != "studies" or study not in self.studies:
            return
        described = self._describe(study)
        if described is not None and all(_matches(described.get(k), v) for k, v in wanted.items()):
            yield described["json"]

    def _describe(self, study: str) -> dict[str, Any] | None:
        by_series = self.studies[study]
        first = next(iter(next(iter(by_series.values()))))
        try:
            with open_read(first) as handle:
                ds = pydicom.dcmread(handle, stop_before_pixels=True)
        except Exception as exc:  # pydicom raises many kinds on a file that does not parse: it is named
            log.warning("landing: %s cannot be read (%s); study %s not described", first, exc, study)
            return None
        ds.NumberOfStudyRelatedInstances = self.count(study)
        ds.NumberOfStudyRelatedSeries = len(by_series)
        if "Modality" in ds and "ModalitiesInStudy" not in ds:
            ds.ModalitiesInStudy = ds.Modality
        values = {e.keyword: e.value for e in ds if e.keyword and e.VR != "SQ"}
        return {
            **values,
            "json": ds.to_json_dict(bulk_data_threshold=1024, bulk_data_element_handler=lambda _: ""),
        }


def _matches(value: Any, wanted: FilterValue) -> bool:
    """A filter against an attribute's value: equal, a ``*``/``?`` pattern, or a ``A-B`` range (dates)."""
    text = (
        "\\".join(str(v) for v in value)
        if isinstance(value, list | tuple | pydicom.multival.MultiValue)
        else str(value or "")
    )
    pattern = str(wanted)
    if "-" in pattern and pattern.replace("-", "").isdigit():
        low, _, high = pattern.partition("-")
        return (not low or text >= low) and (not high or text <= high)
    return fnmatch.fnmatchcase(text, pattern) or pattern in text.split("\\")


def poll_landing(
    index: LandingIndex,
    cursor: LandingCursor,
    *,
    now: dt.datetime,
    options: WatchOptions,
) -> tuple[list[dict[str, Any]], LandingCursor]:
    """One poll: the studies that settled, and the cursor after them (the given one is not changed)."""
    at = now.timestamp()
    ledger = Ledger.from_json(cursor.ledger.to_json())
    if not cursor.started and not options.announce_existing:
        for study in index.studies:
            ledger.known(study, index.count(study), at)
        return [], LandingCursor(ledger, started=True)
    for study in index.studies:
        ledger.saw_count(study, index.count(study), at)
    new = announce_settled(
        ledger, index, at, options.settle_seconds, options.filters, options.event_attributes
    )
    return new, LandingCursor(ledger, started=True)


class LandingSource(ArrivalSource):
    """Arrivals in the landing location named by the connection's extra ``landing_path``."""

    name = KIND
    fields = (
        ConnectionField(
            "landing_path",
            "Landing location (source landing)",
            "The folder or object-store URL a DIMSE gateway (dicomweb receive --dest) or a retrieve writes "
            "{study}/{series}/{sop}.dcm into; the source landing announces each study once it settled there.",
        ),
    )

    def location(self) -> StoragePath:
        given = self.client.transport.settings.extras.get("landing_path")
        if not given:
            raise DicomWebConfigError("the arrival source landing needs the connection's extra landing_path")
        return as_path(str(given))

    def new_cursor(self) -> LandingCursor:
        return LandingCursor()

    def cursor_from_json(self, data: Any) -> LandingCursor:
        return LandingCursor.from_json(data)

    def poll(
        self, cursor: Cursor, options: WatchOptions, now: dt.datetime
    ) -> tuple[list[dict[str, Any]], Cursor]:
        assert isinstance(cursor, LandingCursor)
        return poll_landing(LandingIndex(self.location()), cursor, now=now, options=options)

    def baseline(self, cursor: Cursor, options: WatchOptions) -> str:
        assert isinstance(cursor, LandingCursor)
        studies = len(cursor.ledger.studies)
        return (
            f"study-arrival watcher: baseline of {studies} studies in the landing location {self.location()}"
        )


SOURCE = LandingSource

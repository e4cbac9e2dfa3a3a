"""What every source of study arrivals shares: the event a settled study becomes (its attributes, by
keyword, bounded: a server's answer lands in Airflow's database and UI; its instance count; whether it is an
update), and the search a source asks for them."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Protocol

from airflow_dicomweb.core.arrivals.settling import Announcement, Ledger
from airflow_dicomweb.core.dicom.json_model import SOP_INSTANCE_UID, STUDY_INSTANCE_UID, first_value
from airflow_dicomweb.core.qido.query import FilterValue


class Searches(Protocol):
    """What a poll needs: a search (the client, the hook, or :class:`~airflow_dicomweb.core.qido.search.Search`)."""

    def iter_search(
        self,
        level: str,
        *,
        filters: Mapping[str, FilterValue] | None = ...,
        includefield: Iterable[str] | str | None = ...,
        page_size: int | None = ...,
    ) -> Iterator[dict]: ...


#: The attributes an arrival reports by default: what identifies the study, and no patient identifiers
#: (the event lands in Airflow's database and UI). Ask for more with ``event_attributes``.
DEFAULT_EVENT_ATTRIBUTES = (
    "StudyInstanceUID",
    "StudyDate",
    "StudyTime",
    "AccessionNumber",
    "ModalitiesInStudy",
    "StudyDescription",
    "NumberOfStudyRelatedSeries",
    "NumberOfStudyRelatedInstances",
)
#: What an event may carry of one attribute: a server's answer lands in Airflow's database and UI, so a
#: hostile megabyte-long description is cut (DICOM's own limits are far below these).
MAX_VALUES = 16
MAX_TEXT = 1024


def summarize(item: Mapping[str, Any], attributes: Iterable[str]) -> dict[str, Any]:
    """The event attributes of a QIDO-RS study result, by keyword: one value as itself, several as a list,
    person names as their alphabetic form, absent ones left out; at most MAX_VALUES values of at most
    MAX_TEXT characters each."""
    from pydicom.datadict import tag_for_keyword

    out: dict[str, Any] = {}
    for keyword in attributes:
        tag = tag_for_keyword(keyword)
        if tag is None:
            continue
        values = (item.get(f"{tag:08X}") or {}).get("Value") or []
        values = [v.get("Alphabetic") if isinstance(v, dict) else v for v in values[:MAX_VALUES]]
        values = [
            v[:MAX_TEXT] if isinstance(v, str) else v for v in values if isinstance(v, str | int | float)
        ]
        if values:
            out[keyword] = values[0] if len(values) == 1 else values
    return out


_ISO = re.compile(r"\A([^.Z+]+?)(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})?\Z")


def event_seconds(timestamp: str) -> float:
    """An event's ISO 8601 time (Azure gives 7 digits of a second) as seconds since the epoch, UTC where it
    names no offset; ValueError if it is not one."""
    match = _ISO.match(timestamp)
    if match is None:
        raise ValueError(f"not an ISO 8601 timestamp: {timestamp[:40]!r}")
    whole, fraction, offset = match.groups()
    moment = dt.datetime.fromisoformat(whole + ("+00:00" if offset in (None, "Z") else offset))
    return moment.timestamp() + (float(f"0.{fraction}") if fraction else 0.0)


_INSTANCES_IN_STUDY = "00201208"  # NumberOfStudyRelatedInstances


def instance_count(qido: Searches, item: Mapping[str, Any], study_instance_uid: str) -> int:
    """A study's instance count: its NumberOfStudyRelatedInstances, or, where the server left it out, the
    instances an instance-level search lists."""
    values = (item.get(_INSTANCES_IN_STUDY) or {}).get("Value") or [None]
    value = values[0]
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    found = qido.iter_search(
        "instances", filters={"StudyInstanceUID": study_instance_uid}, includefield=["SOPInstanceUID"]
    )
    return len({first_value(i, SOP_INSTANCE_UID) for i in found} - {None})


def describe(
    qido: Searches,
    study_instance_uid: str,
    filters: Mapping[str, FilterValue] | None,
    attributes: Iterable[str],
) -> tuple[dict[str, Any], int] | None:
    """A study's event attributes and instance count, searched for with the watcher's filters; None if the
    server has no such study or it does not match them."""
    asked = list(dict.fromkeys(["StudyInstanceUID", *attributes, "NumberOfStudyRelatedInstances"]))
    query: dict[str, FilterValue] = {**dict(filters or {}), "StudyInstanceUID": study_instance_uid}
    for item in qido.iter_search("studies", filters=query, includefield=asked):
        if first_value(item, STUDY_INSTANCE_UID) == study_instance_uid:
            return summarize(item, attributes), instance_count(qido, item, study_instance_uid)
    return None


def announce_settled(
    ledger: Ledger,
    qido: Searches,
    now: float,
    settle_seconds: float,
    filters: Mapping[str, FilterValue] | None,
    attributes: Iterable[str],
    wait_for_stable: bool = False,
) -> list[dict[str, Any]]:
    """The events of the studies of ``ledger`` that settled by ``now``, each judged with its count from a
    search with the watcher's ``filters`` (the ledger records the judgements)."""
    new: list[dict[str, Any]] = []
    attributes = list(dict.fromkeys(["StudyInstanceUID", *attributes]))
    for study in ledger.due(now, settle_seconds, wait_for_stable):
        found = describe(qido, study, filters, attributes)
        announcement = ledger.judge(study, found[1] if found else None)
        if found and announcement:
            new.append(payload(found[0], announcement))
    return new


def payload(summary: Mapping[str, Any], announcement: Announcement) -> dict[str, Any]:
    """The event of a settled study: its attributes, the instance count when announced, and ``update``."""
    return {
        **summary,
        "StudyInstanceUID": announcement.study_instance_uid,
        "NumberOfStudyRelatedInstances": announcement.count,
        "update": announcement.update,
    }

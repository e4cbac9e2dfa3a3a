"""What every source of study arrivals shares: the event an arrival becomes (a study's attributes, by
keyword, bounded: a server's answer lands in Airflow's database and UI), and the search a source asks for
them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Protocol

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

"""The store's pre-check: which of the instances about to be sent does the server hold already (QIDO-RS).

Two ways to ask, chosen by what the server does (its profile says, or it is learned from the server with
instances it holds: :mod:`..qido.list_matching`):

- **By UID list** (the server matches a comma-separated list of UIDs, PS3.18
  section 8.3.4.1): one instance-level search names up to about 4 KB of SOP Instance UIDs
  (``SOPInstanceUID=uid1,uid2,...``), whatever series or study they belong to. A store of one-instance
  studies (CR, DX, mammography) then costs one search per ~60 instances instead of one per instance. Such a
  search can match at most as many instances as it names, so it asks for no more (``limit``), and an empty
  or full first page ends it: one request, two at most. A server that answers with an instance it was not
  asked about does not match lists after all: that chunk is asked again series by series.
- **By series** (every other server): one search per series, as many at once as the store's concurrency.

A search that fails is logged and its instances are sent all the same: the store then reads the server's
answer to each (duplicates are recognised there too), so nothing is lost, only a request saved.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from airflow_dicomweb.core.dicom.instance_header import InstanceHeader
from airflow_dicomweb.core.dicom.json_model import SOP_INSTANCE_UID, STUDY_INSTANCE_UID, first_value
from airflow_dicomweb.core.errors import DicomWebError
from airflow_dicomweb.core.qido.list_matching import uid_list_matching
from airflow_dicomweb.core.qido.search import Search

log = logging.getLogger(__name__)

#: The most characters of UIDs one list search names: with 64-character UIDs about 60 of them, a URL of
#: about 4 KB, under the 8 KB request-line limits common to servers and proxies.
UID_LIST_CHARS = 4000


def _value(item: dict, tag: str) -> str | None:
    value = first_value(item, tag)
    return None if value is None else str(value)


def uid_chunks(
    headers: list[InstanceHeader], max_chars: int = UID_LIST_CHARS
) -> Iterator[list[InstanceHeader]]:
    """The headers in runs whose SOP Instance UIDs, joined by commas, fit in ``max_chars``."""
    chunk: list[InstanceHeader] = []
    size = 0
    for header in headers:
        length = len(header.sop_instance_uid) + 1
        if chunk and size + length > max_chars:
            yield chunk
            chunk, size = [], 0
        chunk.append(header)
        size += length
    if chunk:
        yield chunk


class PreCheck:
    """Asks ``search`` which instances its server holds, ``pool``'s threads at once."""

    def __init__(self, search: Search, pool: ThreadPoolExecutor | None) -> None:
        self.search = search
        self.pool = pool

    def held(self, headers: list[InstanceHeader]) -> set[str]:
        """The SOP Instance UIDs of ``headers`` that the server holds, in the same study."""
        learned = uid_list_matching(self.search)
        if learned.sample is not None:  # the server holds fewer than two instances: these are all of them
            return {h.sop_instance_uid for h in headers if h.sop_instance_uid in learned.sample}
        if learned.matches and self.pool is not None:
            found: set[str] = set()
            for part in self.pool.map(self._by_uid_list, list(uid_chunks(headers))):
                found |= part
            return found
        return self._by_series(headers)

    def _by_uid_list(self, chunk: list[InstanceHeader]) -> set[str]:
        study_of = {h.sop_instance_uid: h.study_instance_uid for h in chunk}
        found: set[str] = set()
        try:
            for item in self.search.iter_search(
                "instances",
                filters={"SOPInstanceUID": list(study_of)},
                includefield=[STUDY_INSTANCE_UID],
                limit=len(study_of),
            ):
                sop = _value(item, SOP_INSTANCE_UID)
                if sop not in study_of:
                    log.warning(
                        "a search for %d SOP Instance UIDs answered with another instance (%s): the server "
                        "does not match UID lists; asking series by series",
                        len(study_of),
                        sop,
                    )
                    return self._by_series(chunk, parallel=False)  # already on one of the pool's threads
                study = _value(item, STUDY_INSTANCE_UID)
                if study is None or study == study_of[sop]:
                    found.add(sop)
        except DicomWebError as exc:
            log.warning(
                "could not ask which of %d instances are stored (%s); sending them all", len(study_of), exc
            )
            return set()
        return found

    def held_by_series(self, headers: list[InstanceHeader]) -> set[str]:
        """The same, one series after the other on the calling thread (a few series: a confirmation)."""
        return self._by_series(headers, parallel=False)

    def _by_series(self, headers: list[InstanceHeader], *, parallel: bool = True) -> set[str]:
        wanted: dict[tuple[str, str], set[str]] = {}
        for h in headers:
            wanted.setdefault((h.study_instance_uid, h.series_instance_uid), set()).add(h.sop_instance_uid)

        def ask(key: tuple[str, str]) -> set[str]:
            study, series = key
            found: set[str] = set()
            try:
                for item in self.search.iter_search(
                    "instances", study_instance_uid=study, series_instance_uid=series
                ):
                    sop = _value(item, SOP_INSTANCE_UID)
                    if sop in wanted[key]:
                        found.add(sop)
            except DicomWebError as exc:
                log.warning(
                    "could not ask which instances of series %s are stored (%s); sending them all",
                    series,
                    exc,
                )
            return found

        # One search per series, as many at once as the store sends requests: with one-instance series
        # one at a time would add a round trip per instance before the first byte is sent.
        held: set[str] = set()
        for part in (self.pool.map if parallel and self.pool else map)(ask, list(wanted)):
            held |= part
        return held

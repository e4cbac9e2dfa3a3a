"""Reading Orthanc's REST ``/changes`` feed (checked on Orthanc 1.10).

``GET {orthanc_root}/changes?since=S&limit=L`` lists the changes after sequence number ``S``, in order:
``{"Changes": [{"Seq", "ChangeType", "ResourceType", "ID", "Path", "Date"}...], "Done", "Last"}``;
``GET /changes?last`` gives the newest. Each stored instance makes a ``NewInstance`` change naming it by its
Orthanc ID (Orthanc 1.10 logs no change per study for it), whose study is ``GET /instances/{id}/study``;
``StableStudy`` names a study once no instance of it has arrived for Orthanc's ``StableAge`` seconds.

A change that is not one (no sequence number, an ID that is not an Orthanc ID) is logged and skipped; a
resource deleted before it is looked up is skipped. Nothing is read past ``max_entries`` per call.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from airflow_dicomweb.core import defaults
from airflow_dicomweb.core.errors import DicomWebNotFoundError, DicomWebResponseError
from airflow_dicomweb.core.http.transport import Transport
from airflow_dicomweb.core.servers.orthanc import rest_root
from airflow_dicomweb.core.uids import is_valid_uid

log = logging.getLogger(__name__)
_ORTHANC_ID = re.compile(r"\A[0-9a-f]{8}(-[0-9a-f]{8}){4}\Z")
#: The changes a study-arrival source reads; the others are skipped unread.
NEW_INSTANCE = "NewInstance"
STABLE_STUDY = "StableStudy"
_RESOURCES = {NEW_INSTANCE: "instances", STABLE_STUDY: "studies"}


@dataclass(frozen=True)
class OrthancChange:
    seq: int
    change_type: str
    resource_id: str


class OrthancChanges:
    """The ``/changes`` feed of one Orthanc, over the client's ``transport`` (same origin, same credentials)."""

    def __init__(self, transport: Transport, page: int = defaults.ORTHANC_CHANGES_PAGE) -> None:
        self.transport = transport
        self.root = rest_root(transport.base_url, transport.settings.orthanc_root)
        self.page = page

    def _get(self, path: str, query: str = "") -> Any:
        url = f"{self.root}/{path}"
        reply = self.transport.request("GET", url, query=query, headers={"Accept": "application/json"})
        try:
            return reply.json()
        except ValueError:
            raise DicomWebResponseError(
                f"GET {self.transport.redact(url)}: Orthanc's answer is not JSON: {reply.content[:100]!r}"
            ) from None

    def last(self) -> int:
        """The sequence number of the newest change (0 if there is none)."""
        body = self._get("changes", "last")
        last = body.get("Last") if isinstance(body, dict) else None
        if not isinstance(last, int) or isinstance(last, bool) or last < 0:
            raise DicomWebResponseError(
                f"GET {self.transport.redact(self.root)}/changes?last: no sequence number: {str(body)[:120]!r}"
            )
        return last

    def changes(self, since: int, max_entries: int) -> Iterator[OrthancChange]:
        """The NewInstance and StableStudy changes after ``since``, in order; the last one yielded (or
        skipped) is where the next call starts. At most ``max_entries`` changes are read."""
        read = 0
        while read < max_entries:
            limit = min(self.page, max_entries - read)
            body = self._get("changes", f"since={since}&limit={limit}")
            where = f"GET {self.transport.redact(self.root)}/changes?since={since}"
            changes = body.get("Changes") if isinstance(body, dict) else None
            if not isinstance(changes, list):
                raise DicomWebResponseError(
                    f"{where}: the answer has no list of Changes: {str(body)[:120]!r}"
                )
            for item in changes[:limit]:
                read += 1
                seq = item.get("Seq") if isinstance(item, dict) else None
                if not isinstance(seq, int) or isinstance(seq, bool) or seq <= since:
                    log.warning("%s: a change with no new sequence number skipped: %.120r", where, item)
                    continue
                since = seq
                kind = item.get("ChangeType")
                if kind not in _RESOURCES:
                    continue
                resource_id = item.get("ID")
                if not isinstance(resource_id, str) or not _ORTHANC_ID.match(resource_id):
                    log.warning(
                        "%s: change %d skipped: its ID is not an Orthanc ID: %.80r", where, seq, resource_id
                    )
                    continue
                yield OrthancChange(seq, kind, resource_id)
            if body.get("Done") is True or not changes:
                return

    def study_instance_uid(self, change: OrthancChange) -> str | None:
        """The StudyInstanceUID of the change's instance or study; None (logged) if it is gone or has none."""
        path = f"{_RESOURCES[change.change_type]}/{change.resource_id}"
        try:
            study = self._get(f"{path}/study" if change.change_type == NEW_INSTANCE else path)
        except DicomWebNotFoundError:
            log.info("Orthanc change %d: %s was deleted before it was read; skipped", change.seq, path)
            return None
        tags = study.get("MainDicomTags") if isinstance(study, dict) else None
        uid = tags.get("StudyInstanceUID") if isinstance(tags, dict) else None
        if not isinstance(uid, str) or not is_valid_uid(uid):
            log.warning(
                "Orthanc change %d: %s has no valid StudyInstanceUID (%.80r); skipped", change.seq, path, uid
            )
            return None
        return uid

"""Deleting through Orthanc's own REST API, for Orthanc's DICOMweb plugin, which has no DICOMweb DELETE.

Opt in with the connection extra ``delete_api: orthanc``. A study, series or instance is found by its UID
(``POST {orthanc_root}/tools/lookup``), its parents are checked against the UIDs asked for (a series UID
reused in another study is left alone), and each match is removed with ``DELETE /{studies|series|instances}/ID``.
Orthanc deletes at once, so, like an instance delete on Google, no long-running operation is returned.

``orthanc_root`` is Orthanc's REST root (:func:`airflow_dicomweb.core.servers.orthanc.rest_root`).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from airflow_dicomweb.core.errors import DicomWebNotFoundError, DicomWebResponseError
from airflow_dicomweb.core.http.transport import Transport
from airflow_dicomweb.core.servers.orthanc import rest_root
from airflow_dicomweb.core.uids import validate_uid

log = logging.getLogger(__name__)
_ORTHANC_ID = re.compile(r"^[0-9a-f]{8}(-[0-9a-f]{8}){4}\Z")
_KINDS = {"Study": "studies", "Series": "series", "Instance": "instances"}
_PARENT = {"Series": "ParentStudy", "Instance": "ParentSeries"}


@dataclass(frozen=True)
class OrthancResource:
    kind: str  # Study, Series or Instance
    id: str

    @property
    def path(self) -> str:
        return f"{_KINDS[self.kind]}/{self.id}"


class OrthancRestDelete:
    """Deletes studies, series and instances through Orthanc's REST API, over the client's transport."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.root = rest_root(transport.base_url, transport.settings.orthanc_root)

    def _lookup(self, uid: str, kind: str) -> list[OrthancResource]:
        reply = self.transport.request("POST", f"{self.root}/tools/lookup", data=uid.encode("ascii"))
        try:
            found = reply.json()
        except ValueError:
            found = None
        if not isinstance(found, list):
            raise DicomWebResponseError(f"POST {self.root}/tools/lookup: Orthanc's answer is not a JSON list")
        out = []
        for item in found:
            if isinstance(item, dict) and item.get("Type") == kind:
                resource_id = str(item.get("ID", ""))
                if not _ORTHANC_ID.match(resource_id):
                    raise DicomWebResponseError(
                        f"Orthanc's lookup of {uid} gave an invalid ID {resource_id[:80]!r}"
                    )
                out.append(OrthancResource(kind, resource_id))
        return out

    def _parent_id(self, resource: OrthancResource) -> str:
        info = self.transport.request("GET", f"{self.root}/{resource.path}").json()
        parent = info.get(_PARENT[resource.kind]) if isinstance(info, dict) else None
        return str(parent or "")

    def _count_instances(self, resource: OrthancResource) -> int:
        if resource.kind == "Instance":
            return 1
        found = self.transport.request("GET", f"{self.root}/{resource.path}/instances").json()
        return len(found) if isinstance(found, list) else 0

    def delete(self, study: str, series: str | None = None, instance: str | None = None) -> int:
        """Delete the resource named by the UIDs; the number of instances removed.

        Raises :class:`DicomWebNotFoundError` when Orthanc holds no such resource under the given parents.
        """
        validate_uid(study, "study_instance_uid")
        chain = [("Study", study)]
        if series is not None:
            chain.append(("Series", validate_uid(series, "series_instance_uid")))
        if instance is not None:
            chain.append(("Instance", validate_uid(instance, "sop_instance_uid")))
        # Candidates at each level, each kept only if its parent is one of the level above.
        allowed: set[str] | None = None
        targets: list[OrthancResource] = []
        for kind, uid in chain:
            targets = self._lookup(uid, kind)
            if allowed is not None:
                targets = [t for t in targets if self._parent_id(t) in allowed]
            allowed = {t.id for t in targets}
        what = "/".join(u for _, u in chain)
        if not targets:
            raise DicomWebNotFoundError(
                404,
                method="DELETE",
                url=self.transport.redact(self.root),
                server_message=f"Orthanc holds no {chain[-1][0].lower()} {what}",
            )
        removed = 0
        for target in targets:
            count = self._count_instances(target)
            self.transport.request("DELETE", f"{self.root}/{target.path}")
            removed += count
        log.info("deleted %s (%d instances) through Orthanc's REST API", what, removed)
        return removed

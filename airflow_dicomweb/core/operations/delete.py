"""Delete studies, series and instances (the operations they start are polled by :mod:`.polling`).

Google answers a study or series delete with an operation (``{"name": ...}``) and an instance delete with
``{}``; a server that does not implement DICOMweb delete (Orthanc: 405) raises
:class:`~airflow_dicomweb.core.errors.DicomWebDeleteNotSupportedError`, unless the connection says
another ``delete_api``: ``orthanc``, Orthanc's own REST API (:mod:`.orthanc_rest`), or ``dcm4chee``, reject
then delete (:mod:`.dcm4chee_reject`), each at once.
"""

from __future__ import annotations

import logging

from airflow_dicomweb.core.errors import DicomWebResponseError
from airflow_dicomweb.core.http.transport import Transport
from airflow_dicomweb.core.operations.dcm4chee_reject import Dcm4cheeRejectDelete
from airflow_dicomweb.core.operations.orthanc_rest import OrthancRestDelete
from airflow_dicomweb.core.uids import resource_segments

log = logging.getLogger(__name__)
#: Deletes made through a server's own REST API (the connection's ``delete_api``), not DICOMweb DELETE.
_OTHER_APIS: dict[str, type[OrthancRestDelete] | type[Dcm4cheeRejectDelete]] = {
    "orthanc": OrthancRestDelete,
    "dcm4chee": Dcm4cheeRejectDelete,
}


class Delete:
    """Delete studies, series and instances over ``transport``: DICOMweb DELETE, or Orthanc's REST API
    where the settings say so."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    def _delete(self, segments: list[str]) -> dict | None:
        api = self.transport.settings.delete_api
        if api in _OTHER_APIS:
            _OTHER_APIS[api](self.transport).delete(*segments[1::2])
            return None
        url = self.transport.url(*segments)
        response = self.transport.request("DELETE", url, ok=(200, 202, 204))
        if not response.content.strip():
            return None
        try:
            body = response.json()
        except ValueError:
            raise DicomWebResponseError(
                f"DELETE {self.transport.redact(url)}: answer is not JSON: {response.content[:120]!r}"
            ) from None
        if isinstance(body, dict) and body.get("name"):
            log.info("delete %s started operation %s", self.transport.redact(url), body["name"])
            return body
        return None

    def delete_study(self, study_instance_uid: str) -> dict | None:
        """Delete a study; the long-running operation if the server started one, else None."""
        return self._delete(resource_segments(study_instance_uid))

    def delete_series(self, study_instance_uid: str, series_instance_uid: str) -> dict | None:
        """Delete a series; the long-running operation if the server started one, else None."""
        return self._delete(resource_segments(study_instance_uid, series_instance_uid))

    def delete_instance(
        self, study_instance_uid: str, series_instance_uid: str, sop_instance_uid: str
    ) -> dict | None:
        """Delete one instance; the operation if the server started one, else None."""
        return self._delete(resource_segments(study_instance_uid, series_instance_uid, sop_instance_uid))

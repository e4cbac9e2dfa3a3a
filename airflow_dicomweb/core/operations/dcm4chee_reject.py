"""Deleting on dcm4chee-arc, which deletes nothing that was not rejected first (its IOCM REST API, under the
same ``/dcm4chee-arc/aets/{AET}/rs`` root as its DICOMweb services).

Opt in with the connection extra ``delete_api: dcm4chee``. Each delete first rejects:
``POST {root}/studies/{study}[/series/{series}[/instances/{sop}]]/reject/{CodeValue}^{CodingSchemeDesignator}``
with the connection's ``rejection_code`` (by default ``113039^DCM``, "Data Retention Policy Expired"). From
then on the archive hides what was rejected from QIDO-RS and WADO-RS. A study is then deleted for good
(``DELETE {root}/studies/{study}``, which dcm4chee refuses for a study that still holds unrejected
instances). A series or an instance has no such call: it stays rejected, and the archive's own cleanup of
rejected instances removes it, as its configuration says. Neither starts a long-running operation.
"""

from __future__ import annotations

import logging

from airflow_dicomweb.core.errors import DicomWebNotFoundError
from airflow_dicomweb.core.http.transport import Transport
from airflow_dicomweb.core.uids import resource_segments

log = logging.getLogger(__name__)


class Dcm4cheeRejectDelete:
    """Reject, then (for a study) delete, over the client's transport."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    def delete(self, study: str, series: str | None = None, instance: str | None = None) -> None:
        segments = resource_segments(study, series, instance)
        code = self.transport.settings.rejection_code
        reject = self.transport.url(*segments, "reject", code)
        try:
            self.transport.request("POST", reject, ok=(200, 204))
        except DicomWebNotFoundError as missing:
            # Nothing left to reject: a study rejected by an earlier run that stopped before its delete is
            # deleted now (and an unknown one gets the delete's own 404). Anything else is the answer.
            if series is not None or "found for rejection" not in str(missing):
                raise
        what = "/".join(s for s in (study, series, instance) if s)
        if series is None:
            self.transport.request("DELETE", self.transport.url(*segments), ok=(200, 204))
            log.info("rejected (%s) and deleted study %s on dcm4chee", code, what)
        else:
            log.info(
                "rejected (%s) %s on dcm4chee; the archive's cleanup of rejected instances removes it",
                code,
                what,
            )

"""Delete studies, series and instances, and wait on the long-running operations that deletes start.

Google answers a study or series delete with an operation (``{"name": ...}``) and an instance delete with
``{}``; a server that does not implement DICOMweb delete (Orthanc: 405) raises
:class:`~airflow_dicomweb.core.errors.DicomWebDeleteNotSupportedError`, unless the connection says
``delete_api: orthanc``: then Orthanc's own REST API deletes (:mod:`.orthanc_delete`), at once.
"""

from __future__ import annotations

import logging
import time

from airflow_dicomweb.core.errors import DicomWebOperationTimeoutError, DicomWebResponseError
from airflow_dicomweb.core.operations import (
    RUNNING,
    describe_operation,
    operation_state,
    raise_for_operation_error,
)
from airflow_dicomweb.core.orthanc_delete import OrthancRestDelete
from airflow_dicomweb.core.transport import Transport
from airflow_dicomweb.core.uids import resource_segments

log = logging.getLogger(__name__)


class DeleteMixin:
    """Delete and long-running operations. Needs ``self.transport``."""

    transport: Transport

    def _delete(self, segments: list[str]) -> dict | None:
        if self.transport.settings.delete_api == "orthanc":
            OrthancRestDelete(self.transport).delete(*segments[1::2])
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

    def get_operation(self, name: str) -> dict:
        """The current state of a long-running operation."""
        url = self.transport.operation_url(name)
        response = self.transport.request("GET", url, headers={"Accept": "application/json"})
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise DicomWebResponseError(f"GET {self.transport.redact(url)}: operation is not a JSON object")
        return body

    def wait_for_operation(
        self,
        name: str | dict,
        timeout: float = 3600.0,
        poll_interval: float = 5.0,
        max_poll_interval: float = 60.0,
    ) -> dict:
        """Poll an operation until it is done; the finished operation.

        Waits grow by half each poll from ``poll_interval`` up to ``max_poll_interval``. Raises
        :class:`DicomWebOperationError` (with the operation's code and message) if it failed, and
        :class:`DicomWebOperationTimeoutError` if it is still running after ``timeout`` seconds.
        """
        if isinstance(name, dict):
            name = str(name.get("name") or "")
        if not name:
            raise ValueError("wait_for_operation needs an operation name")
        deadline = time.monotonic() + timeout
        interval = poll_interval
        while True:
            operation = self.get_operation(name)
            if operation_state(operation) != RUNNING:
                log.info(describe_operation(operation))
                raise_for_operation_error(operation)
                return operation
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DicomWebOperationTimeoutError(name, timeout, operation)
            log.info("%s; next poll in %.1f s", describe_operation(operation), min(interval, remaining))
            time.sleep(min(interval, remaining))
            interval = min(interval * 1.5, max_poll_interval)

"""What the operators that start a long cloud job share: Airflow 3.3's ``ResumableJobMixin`` (the job's id kept
in the task's state store before any wait, so a retry re-attaches), with the job's judged result kept for
the one ``execute`` of the try, whichever way the mixin went (started, re-attached, found over).

:class:`ResumableJob` is the part every such operator has; :class:`ResumableOperation` adds what a
DICOMweb long-running operation has (a Google store's, an Azure DICOM service's): its state read with the
connection's hook, and its wait in the worker or, deferred, in ``DicomWebOperationTrigger``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.providers.common.compat.sdk import ResumableJobMixin
from airflow.sdk import Context
from airflow.sdk.exceptions import AirflowException

from airflow_dicomweb.core.operations.state import RUNNING, SUCCEEDED, operation_state
from airflow_dicomweb.triggers.operation import DicomWebOperationTrigger


class ResumableJob(ResumableJobMixin):
    """The try's result, whichever path the mixin took. Subclasses say how a finished job is judged."""

    _result: dict[str, Any] | None = None

    def run_resumable(self, context: Context) -> dict[str, Any]:
        """``execute_resumable``, then the result the wait or the read of the job left."""
        self._result = None
        self.execute_resumable(context)
        return self.result_of_try()

    def result_of_try(self) -> dict[str, Any]:
        """What this try's wait or read of the job left (set by the mixin's methods below)."""
        if self._result is None:
            raise AirflowException(f"{self.external_id_key}: the job ended without a result")
        return self._result

    def judge_finished(self, external_id: str, context: Context) -> dict[str, Any]:
        """The result of a job that is over (its counts, its failures), or an exception."""
        raise NotImplementedError

    def get_job_result(self, external_id: Any, context: Context) -> dict[str, Any]:
        if self._result is None:  # a retry that found its job already over
            self._result = self.judge_finished(str(external_id), context)
        return self._result


class ResumableOperation(ResumableJob):
    """A DICOMweb long-running operation as the job: its name is the external id."""

    hook: Any
    dicomweb_conn_id: str
    deferrable: bool
    poll_interval: float
    timeout: float

    def finish(self, context: Context, operation: dict[str, Any]) -> dict[str, Any]:
        """Judge the finished operation (the operator's counts and failures)."""
        raise NotImplementedError

    def judge_finished(self, external_id: str, context: Context) -> dict[str, Any]:
        return self.finish(context, self.hook.get_operation(external_id))

    def get_job_status(self, external_id: Any, context: Context) -> str:
        return operation_state(self.hook.get_operation(str(external_id)))

    def is_job_active(self, status: str) -> bool:
        return status == RUNNING

    def is_job_succeeded(self, status: str) -> bool:
        return status == SUCCEEDED

    def poll_until_complete(self, external_id: Any, context: Context) -> None:
        name = str(external_id)
        if self.deferrable:
            self.defer(  # type: ignore[attr-defined]
                trigger=DicomWebOperationTrigger(name, self.dicomweb_conn_id, self.poll_interval),
                method_name="execute_complete",
                timeout=timedelta(seconds=self.timeout),
            )
        operation = self.hook.wait_for_operation(
            name, timeout=self.timeout, poll_interval=self.poll_interval, raise_on_error=False
        )
        self._result = self.finish(context, operation)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        # The event says the operation is over; its counts are read from the operation itself.
        name = str(event.get("operation") or "")
        if not name:
            raise AirflowException(f"the trigger's event names no operation: {event}")
        return self.finish(context, self.hook.get_operation(name))

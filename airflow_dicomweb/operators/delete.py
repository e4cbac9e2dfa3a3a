"""``DicomWebDeleteOperator``: delete a study, series or instance, and wait on the operation."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from airflow.configuration import conf
from airflow.sdk import Context
from airflow.sdk.exceptions import AirflowSkipException

from airflow_dicomweb.core import defaults
from airflow_dicomweb.core.errors import DicomWebDeleteNotSupportedError
from airflow_dicomweb.operators.resource import RESOURCE_TEMPLATE_FIELDS, DicomWebResourceOperator
from airflow_dicomweb.triggers.operation import DicomWebOperationTrigger, operation_from_event

ON_UNSUPPORTED = ("fail", "skip")


class DicomWebDeleteOperator(DicomWebResourceOperator):
    """Delete, in the worker; wait for the long-running operation in the worker or in the triggerer.

    :param wait_for_completion: poll the operation until it is done (Google's study and series deletes).
    :param deferrable: hand the waiting to ``DicomWebOperationTrigger``, so no worker slot is held.
    :param on_unsupported: what to do when the server has no DICOMweb delete (Orthanc): ``fail`` the task
        with that message, or ``skip`` it with that message.
    :return: the operation's name, or ``""`` when the server finished at once (an instance delete on
        Google, any delete through Orthanc's REST API). An empty string, not None, so that a downstream
        sensor's ``operation_name=delete.output`` finds an XCom and knows there is nothing to wait for.
    """

    lineage_role = "drop"
    template_fields: Sequence[str] = RESOURCE_TEMPLATE_FIELDS
    ui_color = "#fadbd8"

    def __init__(
        self,
        *,
        study_instance_uid: str,
        series_instance_uid: str | None = None,
        sop_instance_uid: str | None = None,
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = defaults.TASK_OPERATION_POLL_INTERVAL,
        timeout: float = defaults.OPERATION_TIMEOUT,
        on_unsupported: str = "fail",
        **kwargs: Any,
    ) -> None:
        super().__init__(
            study_instance_uid=study_instance_uid,
            series_instance_uid=series_instance_uid,
            sop_instance_uid=sop_instance_uid,
            **kwargs,
        )
        if on_unsupported not in ON_UNSUPPORTED:
            raise ValueError(f"on_unsupported must be one of {ON_UNSUPPORTED}")
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.on_unsupported = on_unsupported

    def execute(self, context: Context) -> str:
        try:
            if self.sop_instance_uid:
                if not self.series_instance_uid:
                    raise ValueError("sop_instance_uid needs series_instance_uid")
                operation = self.hook.delete_instance(
                    self.study_instance_uid, self.series_instance_uid, self.sop_instance_uid
                )
            elif self.series_instance_uid:
                operation = self.hook.delete_series(self.study_instance_uid, self.series_instance_uid)
            else:
                operation = self.hook.delete_study(self.study_instance_uid)
        except DicomWebDeleteNotSupportedError as exc:
            if self.on_unsupported == "skip":
                self.log.warning("skipped: %s", exc)
                raise AirflowSkipException(str(exc)) from None
            raise
        deleted = {
            self.study_instance_uid: {
                "series_instance_uids": [self.series_instance_uid] if self.series_instance_uid else [],
                "sop_instance_uid": self.sop_instance_uid or "",
                "operation_name": (operation or {}).get("name", ""),
            }
        }
        self.emit_study_events(context, "delete", deleted)
        if operation is None:
            self.log.info("deleted; the server finished at once")
            return ""
        name = operation["name"]
        self.log.info("delete started operation %s", name)
        if not self.wait_for_completion:
            return name
        if self.deferrable:
            self.defer(
                trigger=DicomWebOperationTrigger(name, self.dicomweb_conn_id, self.poll_interval),
                method_name="execute_complete",
                timeout=timedelta(seconds=self.timeout),
            )
        self.hook.wait_for_operation(name, timeout=self.timeout, poll_interval=self.poll_interval)
        return name

    def execute_complete(self, context: Context, event: dict[str, Any]) -> str:
        name = operation_from_event(event)
        self.log.info("operation %s done: %s", name, event.get("counter"))
        return name

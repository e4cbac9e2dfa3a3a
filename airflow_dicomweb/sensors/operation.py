"""``DicomWebOperationSensor``: waits for a long-running operation (poke, reschedule or deferrable)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import Any

from airflow.configuration import conf
from airflow.sdk import BaseSensorOperator, Context
from airflow.sdk.exceptions import AirflowException

from airflow_dicomweb.core.errors import DicomWebOperationError
from airflow_dicomweb.core.operations.state import (
    RUNNING,
    describe_operation,
    operation_state,
    raise_for_operation_error,
)
from airflow_dicomweb.hooks.dicomweb import DicomWebHook
from airflow_dicomweb.triggers.operation import DicomWebOperationTrigger, operation_from_event


class DicomWebOperationSensor(BaseSensorOperator):
    """Succeed when the operation is done; fail with its error code and message if it failed.

    :param operation_name: e.g. ``projects/P/locations/L/datasets/D/operations/123`` (templated; often the
        return value of a ``DicomWebDeleteOperator`` with ``wait_for_completion=False``).
    :param deferrable: wait in the triggerer instead of a worker slot.
    """

    template_fields: Sequence[str] = ("operation_name", "dicomweb_conn_id")
    ui_color = "#f9e79f"

    def __init__(
        self,
        *,
        operation_name: str,
        dicomweb_conn_id: str = DicomWebHook.default_conn_name,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.operation_name = operation_name
        self.dicomweb_conn_id = dicomweb_conn_id
        self.deferrable = deferrable

    @cached_property
    def hook(self) -> DicomWebHook:
        return DicomWebHook(self.dicomweb_conn_id)

    def execute(self, context: Context) -> Any:
        if not self.operation_name:
            self.log.info("no operation to wait for (the server finished at once)")
            return None
        if not self.deferrable:
            return super().execute(context)
        self.defer(
            trigger=DicomWebOperationTrigger(self.operation_name, self.dicomweb_conn_id, self.poke_interval),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )

    def poke(self, context: Context) -> bool:
        operation = self.hook.get_operation(self.operation_name)
        self.log.info("%s", describe_operation(operation))
        if operation_state(operation) == RUNNING:
            return False
        try:
            raise_for_operation_error(operation)
        except DicomWebOperationError as exc:
            raise AirflowException(str(exc)) from None
        return True

    def execute_complete(self, context: Context, event: dict[str, Any]) -> None:
        self.log.info("operation %s done: %s", operation_from_event(event), event.get("counter"))

"""``DicomWebOperationTrigger``: waits on a long-running operation in the triggerer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_dicomweb.core import defaults
from airflow_dicomweb.core.errors import DicomWebError, DicomWebOperationError
from airflow_dicomweb.core.operations.state import (
    RUNNING,
    describe_operation,
    operation_counter,
    operation_state,
    raise_for_operation_error,
)
from airflow_dicomweb.triggers.base import connected


class DicomWebOperationTrigger(BaseTrigger):
    """Poll an operation until it is done, then yield one event.

    The event is ``{"status": "success", "operation": name, "counter": {...}}``, or ``{"status": "error",
    "operation": name, "code": ..., "message": ...}`` when the operation failed or could not be read.
    Only reads are made here: a triggerer restart may run a trigger again.
    """

    def __init__(
        self,
        operation_name: str,
        dicomweb_conn_id: str,
        poll_interval: float = defaults.TASK_OPERATION_POLL_INTERVAL,
        max_poll_interval: float = defaults.OPERATION_MAX_POLL_INTERVAL,
    ) -> None:
        super().__init__()
        self.operation_name = operation_name
        self.dicomweb_conn_id = dicomweb_conn_id
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "operation_name": self.operation_name,
                "dicomweb_conn_id": self.dicomweb_conn_id,
                "poll_interval": self.poll_interval,
                "max_poll_interval": self.max_poll_interval,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        interval = self.poll_interval
        try:
            async with connected(self.dicomweb_conn_id) as client:
                while True:
                    operation = await asyncio.to_thread(client.get_operation, self.operation_name)
                    state = operation_state(operation)
                    if state != RUNNING:
                        break
                    self.log.info("%s; next poll in %.1f s", describe_operation(operation), interval)
                    await asyncio.sleep(interval)
                    interval = min(interval * 1.5, self.max_poll_interval)
        except DicomWebError as exc:
            yield TriggerEvent(
                {
                    "status": "error",
                    "operation": self.operation_name,
                    "code": None,
                    "message": f"could not read the operation: {exc}",
                }
            )
            return
        if state == "failed":
            try:
                raise_for_operation_error(operation)
            except DicomWebOperationError as failed:  # Google's error, or Azure's results.errors
                code, message = failed.code, failed.message
            else:
                code, message = None, "no message"
            yield TriggerEvent(
                {"status": "error", "operation": self.operation_name, "code": code, "message": message}
            )
            return
        yield TriggerEvent(
            {"status": "success", "operation": self.operation_name, "counter": operation_counter(operation)}
        )


def operation_from_event(event: dict[str, Any]) -> str:
    """The operation's name from a trigger event; an error event raises with its code and message."""
    from airflow.sdk.exceptions import AirflowException

    if event.get("status") != "success":
        raise AirflowException(
            f"operation {event.get('operation')} failed with code {event.get('code')}: {event.get('message')}"
        )
    return event["operation"]

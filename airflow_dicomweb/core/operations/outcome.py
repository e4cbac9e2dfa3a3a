"""How a finished bulk operation is judged: a Google store's (import, export, de-identify, storage class)
or an Azure DICOM service's (export).

Such an operation may finish with some instances failed: Google's ``metadata.counter.failure`` above 0, or an
``error`` beside successes; Azure's ``results.skipped`` above 0, or ``results.errors``. By default that is a
failure, named with the counts and where the failures are listed (Google's ``logsUrl``; Azure's errors).
With ``allow_partial`` it is a success that reports the counts. An operation with an error and no success
fails either way.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from airflow_dicomweb.core.errors import DicomWebOperationError
from airflow_dicomweb.core.google_store.resource import CONSOLE
from airflow_dicomweb.core.operations import azure_operation
from airflow_dicomweb.core.operations.state import FAILED, operation_counter, operation_state


@dataclass(frozen=True)
class BulkOutcome:
    operation: str
    success: int
    failure: int
    logs_url: str
    error: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def outcome_of(operation: dict[str, Any]) -> BulkOutcome:
    counter = operation_counter(operation)
    if azure_operation.is_azure_operation(operation):
        found = azure_operation.errors(operation)
        return BulkOutcome(
            operation=azure_operation.name(operation),
            success=counter["success"],
            failure=counter["failure"],
            logs_url="",
            error="; ".join(found)[:1000],
        )
    error = operation.get("error") if operation_state(operation) == FAILED else None
    logs = (operation.get("metadata") or {}).get("logsUrl")
    return BulkOutcome(
        operation=str(operation.get("name") or ""),
        success=counter["success"],
        failure=counter["failure"],
        logs_url=logs[:2000] if isinstance(logs, str) and logs.startswith(CONSOLE) else "",
        error=str((error or {}).get("message") or "")[:1000] if isinstance(error, dict) else "",
    )


def judge(operation: dict[str, Any], allow_partial: bool = False) -> BulkOutcome:
    """The outcome of a finished operation; :class:`DicomWebOperationError` if it counts as failed."""
    outcome = outcome_of(operation)
    partial = outcome.failure > 0 or bool(outcome.error)
    if not partial or (allow_partial and outcome.success > 0):
        return outcome
    code = (operation.get("error") or {}).get("code") if isinstance(operation.get("error"), dict) else None
    where = f"; logs: {outcome.logs_url}" if outcome.logs_url else ""
    message = (
        f"{outcome.success} instances succeeded and {outcome.failure} failed"
        + (f" ({outcome.error})" if outcome.error else "")
        + where
        + ("" if allow_partial else "; allow_partial=True accepts a partial result")
    )
    raise DicomWebOperationError(outcome.operation, code if isinstance(code, int) else None, message)

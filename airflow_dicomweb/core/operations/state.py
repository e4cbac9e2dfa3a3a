"""Long-running operations: reading their state. Google's (``google.longrunning.Operation``) are read here;
Azure's (``operationId`` and ``status``) by :mod:`.azure_operation`, told apart by their shape.

For Google's: while an operation runs it has no ``done`` field at all; when finished, ``done`` is true and it holds either
``response`` or ``error`` (``code``, ``message``, ``details``). ``metadata.counter`` counts instances as
int64 values, which JSON carries as strings. These functions are pure, so the worker and the triggerer
read operations the same way.
"""

from __future__ import annotations

from typing import Any

from airflow_dicomweb.core.errors import DicomWebOperationError, DicomWebResponseError
from airflow_dicomweb.core.operations import azure_operation

RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"


def operation_name(operation: Any) -> str:
    """The operation's ``name`` (Azure's: ``operations/{id}``); raises if the value is not an operation."""
    if azure_operation.is_azure_operation(operation) and azure_operation.name(operation):
        return azure_operation.name(operation)
    if not isinstance(operation, dict) or not isinstance(operation.get("name"), str) or not operation["name"]:
        raise DicomWebResponseError(f"not a long-running operation (no name): {str(operation)[:200]}")
    return operation["name"]


def operation_state(operation: dict) -> str:
    """``running``, ``succeeded`` or ``failed``. A missing ``done`` means still running."""
    if azure_operation.is_azure_operation(operation):
        return azure_operation.state(operation)
    if not operation.get("done"):
        return RUNNING
    return FAILED if operation.get("error") else SUCCEEDED


def operation_counter(operation: dict) -> dict[str, int]:
    """``metadata.counter`` as integers (success, failure, pending; absent keys are 0)."""
    if azure_operation.is_azure_operation(operation):
        return azure_operation.counter(operation)
    counter = (operation.get("metadata") or {}).get("counter") or {}
    out = {}
    for key in ("success", "failure", "pending"):
        try:
            out[key] = int(counter.get(key, 0) or 0)
        except (TypeError, ValueError):
            out[key] = 0
    return out


def raise_for_operation_error(operation: dict) -> None:
    """Raise :class:`DicomWebOperationError` if the operation finished with an error."""
    if operation_state(operation) != FAILED:
        return
    if azure_operation.is_azure_operation(operation):
        raise DicomWebOperationError(
            operation_name(operation),
            None,
            "; ".join(azure_operation.errors(operation)) or f"status {operation.get('status')}",
            None,
        )
    error = operation.get("error") or {}
    code = error.get("code")
    raise DicomWebOperationError(
        operation.get("name", "?"),
        int(code) if isinstance(code, int | str) and str(code).lstrip("-").isdigit() else None,
        str(error.get("message") or "no message"),
        error.get("details") if isinstance(error.get("details"), list) else None,
    )


def describe_operation(operation: dict) -> str:
    """One line for logs: state, counters and the method that started it."""
    metadata = operation.get("metadata") or {}
    counter = operation_counter(operation)
    shown = operation.get("name") or azure_operation.name(operation) or "?"
    text = f"operation {shown}: {operation_state(operation)}"
    if any(counter.values()):
        text += f" (success {counter['success']}, failure {counter['failure']}, pending {counter['pending']})"
    if metadata.get("apiMethodName"):
        text += f" [{metadata['apiMethodName']}]"
    if azure_operation.is_azure_operation(operation):
        text += azure_operation.describe_extra(operation)
    return text

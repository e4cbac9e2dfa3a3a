"""Deletes and the long-running operations they start: an operation's state (:mod:`.state`), polling it
(:mod:`.polling`), deleting (:mod:`.delete`), and Orthanc's REST API for servers without DICOMweb DELETE
(:mod:`.orthanc_rest`)."""

from airflow_dicomweb.core.operations.state import (
    FAILED,
    RUNNING,
    SUCCEEDED,
    describe_operation,
    operation_counter,
    operation_name,
    operation_state,
    raise_for_operation_error,
)

__all__ = [
    "FAILED",
    "RUNNING",
    "SUCCEEDED",
    "describe_operation",
    "operation_counter",
    "operation_name",
    "operation_state",
    "raise_for_operation_error",
]

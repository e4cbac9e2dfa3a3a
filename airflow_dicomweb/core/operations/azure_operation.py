"""Azure's DICOM service operations (API v2): how one reads.

A request that starts one (export, bulk update, extended query tags) answers 202 with a reference,
``{"id": ..., "href": ".../v2/operations/{id}"}``. ``GET {service root}/operations/{id}`` answers 202 while it
runs and 200 once it is over, with ``operationId``, ``type``, ``status`` (``notStarted``, ``running``,
``succeeded`` or ``completed``, ``failed``, ``canceled``), ``percentComplete`` and ``results``: counts such
as ``studyUpdated``/``instanceUpdated``/``instanceFailed``, or an export's ``exported``/``skipped``, and
``errors``. These functions are pure, so the worker and the triggerer read operations the same way.
"""

from __future__ import annotations

from typing import Any

RUNNING_STATUSES = frozenset({"notstarted", "running", "unknown"})
FAILED_STATUSES = frozenset({"failed", "canceled", "cancelled"})
#: Result counts that tell instances done, and instances not done.
_SUCCESS_KEYS = ("exported", "instanceUpdated", "instancesUpdated", "succeeded")
_FAILURE_KEYS = ("skipped", "instanceFailed", "instancesFailed", "failed")


def is_azure_operation(operation: Any) -> bool:
    """Whether ``operation`` is an Azure operation's status, or the reference to one."""
    return isinstance(operation, dict) and (
        isinstance(operation.get("operationId"), str)
        or (isinstance(operation.get("id"), str) and isinstance(operation.get("href"), str))
    )


def name(operation: dict) -> str:
    """The operation's name as it is polled under the service root: ``operations/{id}``."""
    ident = operation.get("operationId") or operation.get("id")
    return f"operations/{ident}" if isinstance(ident, str) and ident else ""


def state(operation: dict) -> str:
    """``running``, ``succeeded`` or ``failed``: a status not known as running or failed is over."""
    status = str(operation.get("status") or "unknown").lower()
    if status in RUNNING_STATUSES:
        return "running"
    return "failed" if status in FAILED_STATUSES else "succeeded"


def _count(results: dict, keys: tuple[str, ...]) -> int:
    total = 0
    for key in keys:
        try:
            total += int(results.get(key) or 0)
        except (TypeError, ValueError):
            continue
    return total


def counter(operation: dict) -> dict[str, int]:
    """Instances done and not done, from ``results``; pending is 0 once over, else unknown (0)."""
    results = operation.get("results")
    results = results if isinstance(results, dict) else {}
    return {
        "success": _count(results, _SUCCESS_KEYS),
        "failure": _count(results, _FAILURE_KEYS),
        "pending": 0,
    }


def errors(operation: dict) -> list[str]:
    """The operation's error messages (at most 20, each cut to 300 characters)."""
    results = operation.get("results")
    found = results.get("errors") if isinstance(results, dict) else None
    if isinstance(found, str):
        found = [found]
    return [str(e)[:300] for e in (found or [])[:20]] if isinstance(found, list) else []


def describe_extra(operation: dict) -> str:
    """What an Azure operation adds to the one-line description: its type and progress."""
    text = ""
    if operation.get("type"):
        text += f" [{str(operation['type'])[:40]}]"
    percent = operation.get("percentComplete")
    if isinstance(percent, int | float) and state(operation) == "running":
        text += f" {percent:g}%"
    return text

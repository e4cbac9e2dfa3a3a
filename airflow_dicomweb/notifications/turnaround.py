"""A deadline callback for imaging turnaround: a DAG run that is not done in time is named in the
triggerer's log, as a warning a monitoring stack can alert on.

Used with Airflow's ``DeadlineAlert`` (``AsyncCallback(missed_turnaround, kwargs={...})``); a site that wants
a message instead puts one of Airflow's notifiers (Slack, SMTP, ...) in its place.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


async def missed_turnaround(turnaround: str = "", context: dict[str, Any] | None = None) -> str:
    """Log that the run missed its turnaround: the DAG, the run and the time it was given. Airflow passes
    the run as ``context["dag_run"]`` (its API's JSON: ``dag_id``, ``dag_run_id``, ...)."""
    dag_run = (context or {}).get("dag_run") or {}
    message = (
        f"turnaround missed: DAG {dag_run.get('dag_id', '?')}, run {dag_run.get('dag_run_id', '?')} is not "
        f"done within {turnaround or 'its deadline'} of its arrival"
    )
    log.warning("%s", message)
    return message

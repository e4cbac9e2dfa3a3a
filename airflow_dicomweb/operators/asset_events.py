"""Asset events for the studies a task touched, on the outlets its DAG declared.

As with Airflow's own operators, events are opt-in: an operator emits them only for the outlets it is
given. A ``dicomweb://`` Asset among the outlets (the service, say) gets the task's summary as its event's
extra; an ``AssetAlias`` gets one event per study, on that study's ``dicomweb://`` asset, so a DAG scheduled
on the alias runs for the studies that were stored, retrieved or deleted. Extras hold counts, bytes, UIDs,
the operation and the connection id; never a secret.
"""

from __future__ import annotations

from typing import Any

from airflow_dicomweb.assets.dicomweb import SCHEME, create_asset

StudyExtras = dict[str, dict[str, Any]]


def emit_study_events(
    outlets: list[Any], context: Any, service_root: str, operation: str, conn_id: str, studies: StudyExtras
) -> int:
    """Record the events; how many were added (0 when no outlet asks for them)."""
    from airflow.sdk import Asset, AssetAlias

    events = context.get("outlet_events") if hasattr(context, "get") else None
    if not outlets or events is None or not studies:
        return 0
    common = {"operation": operation, "dicomweb_conn_id": conn_id}
    added = 0
    for outlet in outlets:
        if isinstance(outlet, AssetAlias):
            for study, extra in studies.items():
                asset = create_asset(service_root=service_root, study_instance_uid=study)
                events[outlet].add(asset, extra={**common, "study_instance_uid": study, **extra})
                added += 1
        elif isinstance(outlet, Asset) and outlet.uri.startswith(f"{SCHEME}://"):
            events[outlet].extra.update(
                {
                    **common,
                    "study_instance_uids": sorted(studies),
                    "instances": sum(int(e.get("instances", 0)) for e in studies.values()),
                    "bytes": sum(int(e.get("bytes", 0)) for e in studies.values()),
                }
            )
            added += 1
    return added

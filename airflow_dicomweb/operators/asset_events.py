"""Asset events for the studies a task touched, on the outlets its DAG declared.

As with Airflow's own operators, events are opt-in: an operator emits them only for the outlets it is
given. One asset stands for one DICOM store, whatever number of studies passes through it:

- a store's ``dicomweb://`` asset (``create_asset(service_root=...)``, no study in its URI) gets one event per
  study: each study's UID is a partition key (``add_partitions``, Airflow 3.3), so a DAG scheduled with
  ``PartitionedAssetTimetable`` on that asset runs once per study. The extra is the task's summary (counts,
  bytes, the operation, the connection id). Where the running Airflow has no partitions, the one event's
  extra also lists the studies;
- another ``dicomweb://`` asset (a study or series named in the DAG) gets the summary as its extra;
- an ``AssetAlias`` gets one event per study on the store's asset, each extra naming its study, with its
  series, instances and bytes.

Storing 100,000 studies therefore adds one asset to Airflow's database, not 100,000. Extras never hold a
secret.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow_dicomweb.assets.dicomweb import SCHEME, create_asset, dicomweb_uri

StudyExtras = dict[str, dict[str, Any]]

log = logging.getLogger(__name__)


def emit_study_events(
    outlets: list[Any], context: Any, service_root: str, operation: str, conn_id: str, studies: StudyExtras
) -> int:
    """Record the events; how many were added (0 when no outlet asks for them)."""
    from airflow.sdk import Asset, AssetAlias

    events = context.get("outlet_events") if hasattr(context, "get") else None
    if not outlets or events is None or not studies:
        return 0
    common = {"operation": operation, "dicomweb_conn_id": conn_id}
    summary = {
        **common,
        "studies": len(studies),
        "instances": sum(int(e.get("instances", 0)) for e in studies.values()),
        "bytes": sum(int(e.get("bytes", 0)) for e in studies.values()),
    }
    store_uri = dicomweb_uri(service_root)
    added = 0
    for outlet in outlets:
        if isinstance(outlet, AssetAlias):
            store = create_asset(service_root=service_root)
            for study, extra in studies.items():
                events[outlet].add(store, extra={**common, "study_instance_uid": study, **extra})
                added += 1
        elif isinstance(outlet, Asset) and outlet.uri.startswith(f"{SCHEME}://"):
            accessor = events[outlet]
            if "/studies/" not in outlet.uri and hasattr(accessor, "add_partitions"):
                if outlet.uri != store_uri:
                    log.warning(
                        "the outlet %s is not the store of connection %r (%s); its events name the studies "
                        "of that connection's store",
                        outlet.uri,
                        conn_id,
                        store_uri,
                    )
                accessor.extra.update(summary)
                accessor.add_partitions(sorted(studies))
                added += len(studies)
            else:
                accessor.extra.update({**summary, "study_instance_uids": sorted(studies)})
                added += 1
    return added

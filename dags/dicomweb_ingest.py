"""Scheduled ingest: DICOM files dropped into a landing folder are stored, checked, and moved.

The folders are local paths or object-store URLs (``s3://aws_default@bucket/landing``): every file is
handled through ``ObjectStoragePath``, and the store streams objects without staging them on local disk.

Every 15 minutes: the files in the landing folder (left alone until they are ``min_age_seconds`` old, so a
file still being copied is not taken) are stored in parallel; what the server already holds is found by
search and not sent again. The stored instances are checked to be searchable, then each file is moved to
the done folder, or to the quarantine folder with a ``.reason.txt`` beside it. A file leaves the landing
folder only after its outcome is known, so a re-run never stores a file twice and never loses one.
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta

from airflow.sdk import ObjectStoragePath, Param, dag, task

from airflow_dicomweb.assets.dicomweb import create_asset
from airflow_dicomweb.hooks.dicomweb import DicomWebHook
from airflow_dicomweb.operators.store import DicomWebStoreOperator

DATA = os.environ.get("DICOMWEB_DATA_DIR", "/opt/airflow/data")
#: The DICOM store as one asset (``dicomweb://orthanc:8042/dicom-web``): the store task records one event on
#: it per stored study, the study's UID as the event's partition key.
STORE = create_asset(
    service_root=os.environ.get("DICOMWEB_ORTHANC_URL", "http://orthanc:8042/dicom-web"),
    name="dicomweb_store",
)


@dag(
    dag_id="dicomweb_ingest",
    schedule=timedelta(minutes=15),
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["dicomweb", "example"],
    params={
        "landing_dir": Param(f"{DATA}/landing", type="string"),
        "done_dir": Param(f"{DATA}/done", type="string"),
        "quarantine_dir": Param(f"{DATA}/quarantine", type="string"),
        "max_files": Param(1000, type="integer", minimum=1),
        "min_age_seconds": Param(10, type="integer", minimum=0),
        "dicomweb_conn_id": Param("dicomweb_default", type="string"),
    },
)
def dicomweb_ingest():
    @task
    def list_landing(params: dict) -> list[str]:
        """The landing files old enough to be complete, oldest name first, at most max_files."""
        landing = ObjectStoragePath(params["landing_dir"])
        if not landing.exists():
            landing.mkdir(parents=True, exist_ok=True)
        cutoff = time.time() - params["min_age_seconds"]
        files = sorted(str(p) for p in landing.rglob("*") if p.is_file() and p.stat().st_mtime <= cutoff)
        print(f"{len(files)} files waiting in {landing}")
        return files[: params["max_files"]]

    store = DicomWebStoreOperator(
        task_id="store",
        files=list_landing(),
        dicomweb_conn_id="{{ params.dicomweb_conn_id }}",
        fail_on_error=False,  # failures are quarantined below, with their reasons
        return_outcomes=True,
        outlets=[STORE],  # one asset event per study stored: dicomweb_on_stored_study runs once for each
    )

    @task
    def verify_searchable(summary: dict, params: dict) -> dict:
        """Every stored or already-present instance must be found by a search of its study."""
        hook = DicomWebHook(params["dicomweb_conn_id"])
        expected: dict[str, set[str]] = {}
        for o in summary["outcomes"]:
            if o["status"] != "failed":
                expected.setdefault(o["study_instance_uid"], set()).add(o["sop_instance_uid"])
        for study, sops in expected.items():
            found = {i["00080018"]["Value"][0] for i in hook.search_for_instances(study)}
            missing = sops - found
            if missing:
                raise RuntimeError(
                    f"study {study}: {len(missing)} stored instances are not searchable: "
                    f"{sorted(missing)[:5]}; files stay in the landing folder"
                )
        print(f"verified {sum(len(s) for s in expected.values())} instances in {len(expected)} studies")
        return summary

    @task
    def move_files(summary: dict, params: dict) -> dict:
        """Stored and already-present files to done/, failed ones to quarantine/ with their reason."""
        landing = str(ObjectStoragePath(params["landing_dir"])).rstrip("/") + "/"
        moved = {"done": 0, "quarantined": 0}
        for o in summary["outcomes"]:
            source = ObjectStoragePath(o["path"])
            if not source.exists():
                continue
            relative = o["path"][len(landing) :] if o["path"].startswith(landing) else source.name
            if o["status"] == "failed":
                target = ObjectStoragePath(params["quarantine_dir"]) / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                (target.parent / (target.name + ".reason.txt")).write_text(o["reason"] + "\n")
                moved["quarantined"] += 1
            else:
                target = ObjectStoragePath(params["done_dir"]) / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                moved["done"] += 1
            source.move(target)
        print(f"moved {moved['done']} files to done, {moved['quarantined']} to quarantine")
        return moved

    move_files(verify_searchable(store.output))


dicomweb_ingest()

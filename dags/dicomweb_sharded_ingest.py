"""Sharded ingest: a landing prefix of any size, stored by mapped tasks of bounded shards across the workers.

``plan_shards`` lists the landing prefix (a local folder or an object-store URL such as
``s3://aws_default@bucket/landing``) once, and writes the files' names into shard manifests of
``shard_size`` lines (more, if the prefix would otherwise make more than ``max_shards`` shards: Airflow maps
at most ``[core] max_map_length`` tasks, 1,024 by default) under ``work_dir/<run id>/``. Its XCom is the
list of manifests, at most ``max_shards`` short strings, however many files there are.

One mapped store task per manifest then runs on whichever Celery worker takes it. It reads its manifest
itself and returns counts and the first failures: its XCom is bounded whatever the shard holds. A shard is
idempotent and resumable: the store's pre-check reports what the server holds already as already present
and sends only the rest, so a shard retried after its worker died, or a whole run started again, goes on
where it stopped, and no instance is stored twice. ``summarize`` adds the shards' counts up, and fails the
run if any file could not be stored (every failure is named in its shard's log). Files are left in place.
"""

from __future__ import annotations

import math
import os
import re
import time
from datetime import datetime, timedelta

from airflow.sdk import ObjectStoragePath, Param, dag, task
from airflow.sdk.exceptions import AirflowException

from airflow_dicomweb.operators.store import DicomWebStoreOperator

DATA = os.environ.get("DICOMWEB_DATA_DIR", "/opt/airflow/data")


@dag(
    dag_id="dicomweb_sharded_ingest",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    tags=["dicomweb", "example"],
    params={
        "landing_dir": Param(f"{DATA}/archive", type="string"),
        "work_dir": Param(f"{DATA}/shards", type="string"),
        "shard_size": Param(2000, type="integer", minimum=1),
        "max_shards": Param(1000, type="integer", minimum=1),
        "min_age_seconds": Param(10, type="integer", minimum=0),
        "dicomweb_conn_id": Param("dicomweb_default", type="string"),
    },
)
def dicomweb_sharded_ingest():
    @task
    def plan_shards(params: dict, run_id: str) -> list[str]:
        """Shard manifests of the landing files old enough to be complete, in name order."""
        landing = ObjectStoragePath(params["landing_dir"])
        cutoff = time.time() - params["min_age_seconds"]
        files = sorted(str(p) for p in landing.rglob("*") if p.is_file() and p.stat().st_mtime <= cutoff)
        size = max(params["shard_size"], math.ceil(len(files) / params["max_shards"]))
        folder = ObjectStoragePath(params["work_dir"]) / re.sub(r"[^A-Za-z0-9._-]", "_", run_id)
        folder.mkdir(parents=True, exist_ok=True)
        manifests = []
        for number, start in enumerate(range(0, len(files), size)):
            manifest = folder / f"shard-{number:05d}.txt"
            manifest.write_text("".join(f"{name}\n" for name in files[start : start + size]))
            manifests.append(str(manifest))
        print(f"{len(files)} files in {landing}: {len(manifests)} shards of at most {size}, in {folder}")
        return manifests

    store_shard = DicomWebStoreOperator.partial(
        task_id="store_shard",
        dicomweb_conn_id="{{ params.dicomweb_conn_id }}",
        fail_on_error=False,  # the failures are counted by summarize; a retry would fail them again
        max_xcom_uids=10,
        retries=3,
        retry_delay=timedelta(seconds=10),
    ).expand(manifest=plan_shards())

    @task
    def summarize(results: list[dict]) -> dict:
        """The shards' counts added up; the run fails if a file could not be stored."""
        totals = {"shards": 0, "stored": 0, "already_present": 0, "failed": 0}
        failures: list[str] = []
        for result in results:
            totals["shards"] += 1
            for key in ("stored", "already_present", "failed"):
                totals[key] += result[key]
            failures += [f["reason"] for f in result["failures"]][: 20 - len(failures)]
        print(f"sharded ingest: {totals}")
        if totals["failed"]:
            raise AirflowException(
                f"{totals['failed']} files were not stored (each shard's log names its own):\n"
                + "\n".join(failures)
            )
        return totals

    summarize(store_shard.output)


dicomweb_sharded_ingest()

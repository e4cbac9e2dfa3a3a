"""Migration: every study of one archive (or those matching filters) copied to another, by mapped tasks of
bounded shards across the Celery workers, reconciled at the end.

``plan_shards`` lists the source's studies once (QIDO-RS, page by page: no result is lost to a server's page
cap) and writes their UIDs into shard manifests of ``shard_size`` studies under ``work_dir/<run id>/``, with
the source's instance count of each study. Its XCom is one small dict per shard, however large the archive.

One mapped ``DicomWebTransferOperator`` per shard then streams its studies from the source's WADO-RS into
the destination's STOW-RS on whichever worker takes it, verifies each study on the destination, and writes
the shard's whole report next to its manifest. A shard is idempotent: what the destination holds already is
skipped, so a shard retried after its worker died sends only what its first try had not, and a second run of
the whole DAG moves only what is missing.

``reconcile`` reads every shard's report: instances per side, the studies whose counts differ, every
instance missing or failed named. It writes the migration's report (``report.json`` in the run's folder,
the asset ``dicomweb_migration_report``) and fails the run if anything is not at the destination.
"""

from __future__ import annotations

import json
import math
import os
import re
from datetime import datetime, timedelta

from airflow.sdk import Asset, ObjectStoragePath, Param, dag, task
from airflow.sdk.exceptions import AirflowException

from airflow_dicomweb.hooks.dicomweb import DicomWebHook
from airflow_dicomweb.transfers.dicomweb_to_dicomweb import DicomWebTransferOperator

DATA = os.environ.get("DICOMWEB_DATA_DIR", "/opt/airflow/data")
REPORT = Asset(name="dicomweb_migration_report", uri="file:///dicomweb_migration_report")
#: Problems named in the run's log and the asset event (every one is in the report files).
PROBLEMS_SHOWN = 50


@dag(
    dag_id="dicomweb_migration",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    tags=["dicomweb", "example"],
    params={
        "source_conn_id": Param("dicomweb_default", type="string"),
        "dest_conn_id": Param("dicomweb_archive", type="string"),
        "filters": Param({}, type="object", description="QIDO-RS study filters; {} for every study"),
        "work_dir": Param(f"{DATA}/migration", type="string"),
        "shard_size": Param(200, type="integer", minimum=1),
        "max_shards": Param(1000, type="integer", minimum=1),
    },
)
def dicomweb_migration():
    @task
    def plan_shards(params: dict, run_id: str) -> list[dict]:
        """Shard manifests of the source's studies, and the source's instance count of each."""
        counts: dict[str, int | None] = {}
        source = DicomWebHook(params["source_conn_id"])
        try:
            for item in source.iter_search("studies", filters=params["filters"], includefield=["00201208"]):
                uid = item["0020000D"]["Value"][0]
                count = item.get("00201208", {}).get("Value", [None])[0]
                counts[uid] = int(count) if count is not None else None
        finally:
            source.close()
        studies = sorted(counts)
        size = max(params["shard_size"], math.ceil(len(studies) / params["max_shards"]))
        folder = ObjectStoragePath(params["work_dir"]) / re.sub(r"[^A-Za-z0-9._-]", "_", run_id)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "source_counts.json").write_text(json.dumps(counts))
        shards = []
        for number, start in enumerate(range(0, len(studies), size)):
            manifest = folder / f"shard-{number:05d}.txt"
            manifest.write_text("".join(f"{uid}\n" for uid in studies[start : start + size]))
            shards.append(
                {"manifest": str(manifest), "report_path": str(folder / f"shard-{number:05d}.json")}
            )
        print(f"{len(studies)} studies on the source: {len(shards)} shards of at most {size}, in {folder}")
        return shards

    shards = plan_shards()
    copy_shard = DicomWebTransferOperator.partial(
        task_id="copy_shard",
        source_conn_id="{{ params.source_conn_id }}",
        dest_conn_id="{{ params.dest_conn_id }}",
        fail_on_error=False,  # reconcile names what is missing; a retry would only find the same
        max_xcom_studies=10,
        retries=3,
        retry_delay=timedelta(seconds=10),
    ).expand_kwargs(shards)

    @task(outlets=[REPORT])
    def reconcile(
        shards: list[dict], results: list[dict], params: dict, run_id: str, outlet_events=None
    ) -> dict:
        """Both sides' counts from every shard's report; every missing or failed instance named."""
        folder = ObjectStoragePath(params["work_dir"]) / re.sub(r"[^A-Za-z0-9._-]", "_", run_id)
        listed = json.loads((folder / "source_counts.json").read_text())
        totals = {"studies": 0, "source_instances": 0, "destination_instances": 0, "copied": 0,
                  "already_present": 0, "failed": 0, "missing_after_verify": 0}  # fmt: skip
        problems: list[str] = []
        differing: list[str] = []
        for shard in shards:
            report = json.loads(ObjectStoragePath(shard["report_path"]).read_text())
            for study in report["studies"]:
                totals["studies"] += 1
                for key in ("copied", "already_present", "failed", "missing_after_verify"):
                    totals[key] += study[key]
                source_count = study["source_instances"] or listed.get(study["study_instance_uid"]) or 0
                dest_count = study["destination_instances"] or 0
                totals["source_instances"] += source_count
                totals["destination_instances"] += dest_count
                if dest_count < source_count:
                    differing.append(study["study_instance_uid"])
                if study["error"]:
                    problems.append(f"study {study['study_instance_uid']}: {study['error']}")
                problems += [f"study {study['study_instance_uid']}: {f['reason']}" for f in study["failures"]]
                problems += [f"missing at the destination: {name}" for name in study["missing_instances"]]
        result = {**totals, "studies_with_fewer_instances": len(differing), "problems": len(problems)}
        written = folder / "report.json"
        written.write_text(json.dumps({**result, "differing_studies": differing, "problem_list": problems}))
        print(f"migration: {result}; the report is {written}")
        if outlet_events is not None:
            outlet_events[REPORT].extra = {"report": str(written), **result}
        if problems or differing:
            raise AirflowException(
                f"the migration is not whole: {len(problems)} problems, {len(differing)} studies with fewer "
                f"instances at the destination (all in {written}):\n" + "\n".join(problems[:PROBLEMS_SHOWN])
            )
        return result

    reconcile(shards, copy_shard.output)


dicomweb_migration()

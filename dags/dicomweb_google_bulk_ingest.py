"""Bulk ingest into a Google DICOM store: import from Cloud Storage, check the counts with the store's
metrics, then export the metadata to BigQuery for analytics.

At scale Google advises its import over STOW-RS: one request starts a long-running operation that reads
the bucket itself, for hours if the bucket holds terabytes. The import waits where the deployment says
(``[operators] default_deferrable``: in the triggerer, holding no worker slot, or in the worker). Either way
the operation's name is kept in the task's state store before the wait: a retry after the worker died
re-attaches to the running import instead of starting a second one. Here a file that is not DICOM does not
fail the run (``allow_partial=True``): the counts are checked and the failures are listed at the
operation's logs link.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Param, dag, task

from airflow_dicomweb.hooks.google_store import GoogleDicomStoreHook
from airflow_dicomweb.operators.google_store import DicomStoreExportOperator, DicomStoreImportOperator


@dag(
    dag_id="dicomweb_google_bulk_ingest",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    tags=["dicomweb", "google", "example"],
    params={
        "gcs_uri": Param("gs://my-landing-bucket/incoming/**.dcm", type="string", pattern=r"^gs://"),
        "bigquery_table": Param("bq://my-project.imaging.dicom_metadata", type="string", pattern=r"^bq://"),
        "dicomweb_conn_id": Param("dicomweb_default", type="string"),
    },
)
def dicomweb_google_bulk_ingest():
    @task
    def count_before(params: dict) -> int:
        return GoogleDicomStoreHook(params["dicomweb_conn_id"]).store_metrics()["instanceCount"]

    before = count_before()
    imported = DicomStoreImportOperator(
        task_id="import_from_gcs",
        gcs_uri="{{ params.gcs_uri }}",
        allow_partial=True,  # files that are not DICOM are counted and listed at the logs link, not fatal
        poll_interval=10,
        retries=2,  # a retry re-attaches to the import the failed try started
        retry_delay=timedelta(seconds=30),
        dicomweb_conn_id="{{ params.dicomweb_conn_id }}",
    )

    @task
    def check_counts(before: int, imported: dict, params: dict | None = None) -> dict:
        assert params is not None
        metrics = GoogleDicomStoreHook(params["dicomweb_conn_id"]).store_metrics()
        added = metrics["instanceCount"] - before
        print(
            f"import {imported['operation']}: {imported['success']} stored, {imported['failure']} failed; "
            f"the store went from {before} to {metrics['instanceCount']} instances"
        )
        if added < imported["success"]:
            raise RuntimeError(
                f"the import stored {imported['success']} instances; the store has {added} more"
            )
        return metrics

    export = DicomStoreExportOperator(
        task_id="export_metadata_to_bigquery",
        destination="{{ params.bigquery_table }}",
        write_disposition="WRITE_APPEND",
        dicomweb_conn_id="{{ params.dicomweb_conn_id }}",
    )
    before >> imported
    check_counts(before, imported.output) >> export


dicomweb_google_bulk_ingest()

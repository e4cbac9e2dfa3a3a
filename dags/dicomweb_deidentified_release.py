"""A de-identified release: a landing folder is checked by the quality gate (what fails is moved to a
quarantine folder with its reasons), then what passed is de-identified in memory and stored into every
destination (an Orthanc for teaching, a Google DICOM store for a research partner, ...). No identified copy
is written anywhere, and a re-run stores nothing new: the same key gives the same UIDs.

The key is the password of the ``key_conn_id`` connection (type ``dicom_deid_key``); ``retain`` names the
profile's options to keep (``dates-modified``, ``uids``, ``device-identity``, ``patient-characteristics``).
"""

from __future__ import annotations

from datetime import datetime

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import Param, dag, task

from airflow_dicomweb.operators.quality_gate import DicomQualityGateOperator
from airflow_dicomweb.operators.store import DicomWebStoreOperator


@dag(
    dag_id="dicomweb_deidentified_release",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    tags=["dicomweb", "deidentification", "example"],
    render_template_as_native_obj=True,
    params={
        "landing": Param("/data/landing", type="string", description="folder or object-store URL"),
        "quarantine": Param("/data/quarantine", type="string"),
        "key_conn_id": Param("dicom_deid_key", type="string"),
        "retain": Param([], type="array", items={"type": "string"}),
        "destinations": Param(["dicomweb_default"], type="array", items={"type": "string"}, minItems=1),
    },
)
def dicomweb_deidentified_release():
    gate = DicomQualityGateOperator(
        task_id="quality_gate",
        source="{{ params.landing }}",
        quarantine_path="{{ params.quarantine }}",
        checks=["series-completeness", "one-patient-per-study", "pixel-data-decodes"],
    )

    @task.branch
    def route(result: dict) -> str:
        """Release what is left once the gate moved its findings aside; nothing when everything failed."""
        if result["checked"] > result["quarantined"]:
            return "destinations"
        return "nothing_to_release"

    @task
    def destinations(params: dict | None = None) -> list[str]:
        assert params is not None
        return list(params["destinations"])

    targets = destinations()
    release = DicomWebStoreOperator.partial(
        task_id="release",
        files=["{{ params.landing }}"],
        deidentify={"key_conn_id": "{{ params.key_conn_id }}", "retain": "{{ params.retain }}"},
    ).expand(dicomweb_conn_id=targets)

    @task
    def summarize(results: list[dict]) -> dict:
        totals = {
            k: sum(r[k] for r in results) for k in ("stored", "already_present", "quarantined", "failed")
        }
        print(f"released to {len(results)} destinations: {totals}")
        return totals

    route(gate.output) >> [targets, EmptyOperator(task_id="nothing_to_release")]
    summarize(release.output)


dicomweb_deidentified_release()

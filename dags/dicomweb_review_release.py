"""A reviewed release: a settled study is de-identified, a person approves it, and only then is it copied
to the research store.

Runs for each study the study-arrival watcher announces (``dicomweb_new_studies``, once the study is
complete), or by hand with ``study_instance_uid``. The study is retrieved to a work folder on site and
de-identified there (the key is the password of ``key_conn_id``; instances whose pixels may show text are
held back with their reason). A rendered preview and the study's viewer link (the source connection's
``viewer_url``) are put in front of a reviewer by Airflow's ``ApprovalOperator`` (human in the loop): on
"Approve" the de-identified instances are stored into the research store; on "Reject" nothing is. The identified copy is removed when the run ends, either way.

A ``DeadlineAlert`` watches the turnaround from the arrival (the run being queued) to the release: a run
not done within ``DICOMWEB_REVIEW_TURNAROUND_MINUTES`` (240 by default) is named in the triggerer's log by
``missed_turnaround``; put one of Airflow's notifiers there to be told by message instead.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import (
    Asset,
    AsyncCallback,
    DeadlineAlert,
    DeadlineReference,
    Param,
    dag,
    task,
)

from airflow_dicomweb.notifications.turnaround import missed_turnaround
from airflow_dicomweb.operators.deidentify import DicomDeidentifyOperator
from airflow_dicomweb.operators.rendered import DicomWebRetrieveRenderedOperator
from airflow_dicomweb.operators.retrieve import DicomWebRetrieveOperator
from airflow_dicomweb.operators.store import DicomWebStoreOperator

DATA = os.environ.get("DICOMWEB_DATA_DIR", "/opt/airflow/data")
TURNAROUND = timedelta(minutes=float(os.environ.get("DICOMWEB_REVIEW_TURNAROUND_MINUTES", "240")))
WORK = DATA + "/review/{{ ti.xcom_pull(task_ids='study_to_review') }}"


@dag(
    dag_id="dicomweb_review_release",
    schedule=[Asset.ref(name="dicomweb_new_studies")],  # the study-arrival watcher's announcements
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=4,
    tags=["dicomweb", "deidentification", "review", "example"],
    deadline=DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=TURNAROUND,
        callback=AsyncCallback(missed_turnaround, kwargs={"turnaround": str(TURNAROUND)}),
    ),
    params={
        "study_instance_uid": Param("", type="string", description="empty: the announced study"),
        "source_conn_id": Param("dicomweb_default", type="string"),
        "research_conn_id": Param("dicomweb_research", type="string"),
        "key_conn_id": Param("dicom_deid_key", type="string"),
    },
)
def dicomweb_review_release():
    @task
    def study_to_review(params: dict | None = None, triggering_asset_events=None) -> str:
        """The study of this run: the one asked for, else the first the watcher announced."""
        assert params is not None
        if params["study_instance_uid"]:
            return str(params["study_instance_uid"])
        for events in (triggering_asset_events or {}).values():
            for event in events:
                uid = ((event.extra or {}).get("payload") or {}).get("study_instance_uid")
                if uid:
                    return str(uid)
        raise ValueError("no study to review: give study_instance_uid, or run on an arrival event")

    study = study_to_review()
    retrieve = DicomWebRetrieveOperator(
        task_id="retrieve",
        study_instance_uid=study,
        dest_dir=WORK + "/identified",
        dicomweb_conn_id="{{ params.source_conn_id }}",
    )
    deidentify = DicomDeidentifyOperator(
        task_id="deidentify",
        source=[WORK + "/identified"],
        output_path=WORK + "/deidentified",
        key_conn_id="{{ params.key_conn_id }}",
    )
    preview = DicomWebRetrieveRenderedOperator(
        task_id="preview",
        study_instance_uid=study,
        output_path=WORK + "/preview.png",
        dicomweb_conn_id="{{ params.source_conn_id }}",
    )

    @task
    def review_note(study: str, deidentified: dict, params: dict | None = None) -> str:
        """What the reviewer reads (Markdown): the study, its viewer link and preview, what would be
        released and what is held back, with reasons (which name attributes, never values)."""
        from airflow_dicomweb.hooks.dicomweb import DicomWebHook

        assert params is not None
        link = DicomWebHook(params["source_conn_id"]).settings.viewer_link(study)
        held = [
            f"- `{item['source'].rsplit('/', 1)[-1]}`: {item['reason']}"
            for item in deidentified["not_released"]
        ]
        return "\n".join(
            [
                f"**Study** `{study}`" + (f" ([open in the viewer]({link}))" if link else ""),
                f"**Preview** `{DATA}/review/{study}/preview.png`",
                "",
                f"**To release** {deidentified['deidentified']} de-identified instances as study "
                + ", ".join(f"`{uid}`" for uid in deidentified["study_instance_uids"])
                + f" into `{params['research_conn_id']}`.",
                "",
                f"**Held back** {deidentified['quarantined'] + deidentified['failed']} instances"
                + (":\n" + "\n".join(held) if held else "."),
            ]
        )

    note = review_note(study, deidentify.output)
    review = ApprovalOperator(
        task_id="review",
        subject="Release study {{ ti.xcom_pull(task_ids='study_to_review') }} to the research store?",
        body="{{ ti.xcom_pull(task_ids='review_note') }}",
    )
    release = DicomWebStoreOperator(
        task_id="release",
        files=[WORK + "/deidentified"],
        dicomweb_conn_id="{{ params.research_conn_id }}",
    )

    @task(trigger_rule="all_done")
    def forget_identified(study: str) -> None:
        """The identified copy was only for the de-identifier: it goes whatever the review said."""
        import shutil

        shutil.rmtree(f"{DATA}/review/{study}/identified", ignore_errors=True)

    retrieve >> deidentify
    [preview, note] >> review >> release >> forget_identified(study)


dicomweb_review_release()

"""Hook-level lineage: TaskFlow code that calls the hook reports what it read and wrote, as the operators
do. Run as Airflow runs it: a ``@task`` calling ``hook.retrieve_study`` and ``hook.store_instances`` under
``dag.test()``, with the OpenLineage provider enabled (a file transport), in a process of its own (the
provider decides at import whether it is enabled); its events name the study and the folder."""

from __future__ import annotations

import json
import textwrap

from pydicom.uid import generate_uid

from tests.connections import orthanc_connection
from tests.dag_process import run_dag_script
from tests.dicom_factory import make_series

SCRIPT = textwrap.dedent(
    """
    import os
    from datetime import datetime

    from airflow.sdk import dag, task

    from airflow_dicomweb.hooks.dicomweb import DicomWebHook

    study, source, dest = os.environ["PROBE_STUDY"], os.environ["PROBE_SOURCE"], os.environ["PROBE_DEST"]

    @dag(dag_id="hook_lineage_probe", schedule=None, start_date=datetime(2024, 1, 1), catchup=False)
    def probe():
        @task
        def move_through_the_hook():
            hook = DicomWebHook("dicomweb_lineage")
            hook.store_instances([source])
            hook.retrieve_study(study, dest)
            hook.close()

        move_through_the_hook()

    probe()

    if __name__ == "__main__":
        from airflow.dag_processing.dagbag import DagBag

        bag = DagBag(dag_folder=__file__)
        run = bag.dags["hook_lineage_probe"].test()
        print("STATE", run.state)
    """
)


def test_a_task_calling_the_hook_reports_its_inputs_and_outputs(airflow_db, clean_orthanc, tmp_path):
    study = generate_uid()
    make_series(tmp_path / "in", 2, study_uid=study)
    events_file = tmp_path / "openlineage.jsonl"
    env = {
        "AIRFLOW_CONN_DICOMWEB_LINEAGE": orthanc_connection(clean_orthanc),
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
            {"type": "file", "log_file_path": str(events_file), "append": True}
        ),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "test",
        "PROBE_STUDY": study,
        "PROBE_SOURCE": str(tmp_path / "in"),
        "PROBE_DEST": str(tmp_path / "out"),
    }
    done = run_dag_script(tmp_path, SCRIPT, env)
    assert "STATE success" in done.stdout, done.stdout[-3000:] + done.stderr[-3000:]
    events = [json.loads(line) for line in events_file.read_text().splitlines() if line.strip()]
    complete = [
        e
        for e in events
        if e.get("eventType") == "COMPLETE" and e["job"]["name"].endswith("move_through_the_hook")
    ]
    assert complete, [e["job"]["name"] for e in events]
    inputs = {(d["namespace"], d["name"]) for d in complete[-1]["inputs"]}
    outputs = {(d["namespace"], d["name"]) for d in complete[-1]["outputs"]}
    service = f"dicomweb://127.0.0.1:{clean_orthanc.port}"
    assert (service, f"/dicom-web/studies/{study}") in inputs
    assert ("file", str(tmp_path / "in")) in inputs
    assert (service, f"/dicom-web/studies/{study}") in outputs
    assert ("file", str(tmp_path / "out")) in outputs

"""The main job, end to end on this machine: the example DAGs run with dag.test() against a local Orthanc.

It starts an Orthanc with its DICOMweb plugin, an Airflow on SQLite in a temporary home, puts sample data
in place (pydicom's sample files, a synthetic study, a file that is not DICOM, JPEG images with metadata),
then runs ingest, export, JPEG to DICOM and delete (through Orthanc's REST API), prints what each task did,
and checks that the deleted study is gone.
"""

from __future__ import annotations

import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = Path(tempfile.mkdtemp(prefix="dicomweb-demo-"))
DATA = WORK / "data"
sys.path.insert(0, str(ROOT))
os.environ.update(
    {
        "AIRFLOW_HOME": str(WORK / "airflow"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": os.environ.get("DEMO_LOG_LEVEL", "WARNING"),
        "DICOMWEB_DATA_DIR": str(DATA),
    }
)

from PIL import Image  # noqa: E402
from pydicom.data import get_testdata_file  # noqa: E402
from pydicom.uid import generate_uid  # noqa: E402

from tests.dicom_factory import make_series  # noqa: E402
from tests.servers.orthanc_server import OrthancServer  # noqa: E402


def prepare_data() -> str:
    landing = DATA / "landing"
    (landing / "samples").mkdir(parents=True)
    for name in ("CT_small.dcm", "MR_small.dcm", "SC_jpeg_no_color_transform.dcm", "emri_small.dcm"):
        (landing / "samples" / name).write_bytes(Path(get_testdata_file(name)).read_bytes())
    study = generate_uid()
    make_series(
        landing / "ct-study",
        12,
        study_uid=study,
        patient_name="DEMO^PATIENT",
        study_date="20240115",
        rows=128,
        columns=128,
    )
    (landing / "notes.txt").write_text("not a DICOM file: quarantined with its reason")
    for path in landing.rglob("*"):
        os.utime(path, (time.time() - 3600, time.time() - 3600))
    jpeg = DATA / "jpeg"
    jpeg.mkdir()
    for n in range(3):
        buf = io.BytesIO()
        Image.new("RGB", (320, 240), (40 + 60 * n, 90, 160)).save(buf, "JPEG", quality=90)
        (jpeg / f"photo{n}.jpg").write_bytes(buf.getvalue())
    (jpeg / "metadata.json").write_text(
        json.dumps(
            {
                "0020000D": {"vr": "UI", "Value": [generate_uid()]},
                "0020000E": {"vr": "UI", "Value": [generate_uid()]},
                "00100010": {"vr": "PN", "Value": [{"Alphabetic": "PHOTO^PATIENT"}]},
                "00100020": {"vr": "LO", "Value": ["PHOTO-1"]},
                "00080060": {"vr": "CS", "Value": ["XC"]},
            }
        )
    )
    return study


def short(value: object, width: int = 150) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    return text if len(text) <= width else text[: width - 3] + "..."


def run(bag, dag_id: str, conf: dict) -> bool:
    print(f"\n=== {dag_id}  {short(conf, 120)}")
    started = time.monotonic()
    dagrun = bag.dags[dag_id].test(run_conf=conf)
    for ti in sorted(
        dagrun.get_task_instances(), key=lambda t: (t.start_date or t.end_date or 0, t.map_index)
    ):
        name = ti.task_id + (f"[{ti.map_index}]" if ti.map_index >= 0 else "")
        value = (
            ti.xcom_pull(task_ids=ti.task_id, map_indexes=ti.map_index)
            if str(ti.state) == "success"
            else None
        )
        print(f"  {name:<22} {ti.state!s:<8} {short(value) if value is not None else ''}")
    print(f"  -> run {dagrun.state} in {time.monotonic() - started:.1f} s")
    return str(dagrun.state) == "success"


def asset_events(dag_id: str) -> int:
    """How many asset events the DAG's runs recorded in Airflow's database."""
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    with create_session() as session:
        return int(
            session.scalar(
                select(func.count()).select_from(AssetEvent).where(AssetEvent.source_dag_id == dag_id)
            )
            or 0
        )


def main() -> int:
    study = prepare_data()
    with OrthancServer() as orthanc:
        print(f"Orthanc + DICOMweb at {orthanc.dicomweb_url}; Airflow home and data in {WORK}")
        os.environ["DICOMWEB_ORTHANC_URL"] = orthanc.dicomweb_url  # the DAGs name the store's asset by it
        os.environ["AIRFLOW_CONN_DICOMWEB_DEFAULT"] = json.dumps(
            {
                "conn_type": "dicomweb",
                "host": orthanc.dicomweb_url,
                "login": orthanc.username,
                "password": orthanc.password,
                # Orthanc's DICOMweb plugin has no DELETE: delete through Orthanc's own REST API.
                "extra": {"caret_as_wildcard": True, "delete_api": "orthanc"},
            }
        )
        from airflow.dag_processing.dagbag import DagBag
        from airflow.utils.db import resetdb

        resetdb()
        bag = DagBag(dag_folder=str(ROOT / "dags"))
        if bag.import_errors:
            print("DAG import errors:", bag.import_errors)
            return 1
        print(
            "\nWhat the ingest logs on purpose: notes.txt is not DICOM, so the store warns about it and the "
            "task's summary logs it as failed, and it is quarantined with its reason. The store task records "
            "one asset event per stored study on the store's one asset (dicomweb_store), the study's UID as "
            "the event's partition key; the count after the run shows them."
        )
        ok = run(bag, "dicomweb_ingest", {})
        recorded = asset_events("dicomweb_ingest")
        print(f"  asset events recorded: {recorded} (one per stored study, on one asset)")
        ok &= recorded > 0
        ok &= run(bag, "dicomweb_export", {"study_date": "20240115"})
        ok &= run(bag, "dicomweb_jpeg_to_dicom", {})
        ok &= run(bag, "dicomweb_delete", {"study_instance_uid": study})
        gone = not orthanc.rest("POST", "/tools/lookup", data=study).json()
        print(f"  study {study} {'is gone from Orthanc' if gone else 'is STILL on Orthanc'}")
        ok &= gone

        print("\nOn disk:")
        for folder in ("done", "quarantine", "export/dicom", "export/metadata", "export/previews"):
            files = [p for p in (DATA / folder).rglob("*") if p.is_file()]
            print(f"  {folder:<16} {len(files)} files")
        for reason in (DATA / "quarantine").rglob("*.reason.txt"):
            print(f"  quarantined {reason.name.removesuffix('.reason.txt')}: {reason.read_text().strip()}")
        print(f"  Orthanc holds {orthanc.count_instances()} instances")
        print("\nDemo", "succeeded" if ok else "FAILED")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

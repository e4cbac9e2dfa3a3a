"""Store sample DICOM files into a local Orthanc, search them and retrieve them back through DicomWebHook."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="airflow-home-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

from pydicom.data import get_testdata_file  # noqa: E402
from pydicom.uid import generate_uid  # noqa: E402

from tests.dicom_factory import make_series  # noqa: E402
from tests.orthanc_server import OrthancServer  # noqa: E402


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="dicomweb-demo-"))
    inbox = work / "inbox"
    inbox.mkdir()
    for name in ("CT_small.dcm", "MR_small.dcm", "SC_jpeg_no_color_transform.dcm", "emri_small.dcm"):
        (inbox / name).write_bytes(Path(get_testdata_file(name)).read_bytes())
    make_series(
        inbox / "synthetic", 12, study_uid=generate_uid(), patient_name="DEMO^PATIENT", rows=128, columns=128
    )
    (inbox / "notes.txt").write_text("not a DICOM file: the store reports it and goes on")

    with OrthancServer() as orthanc:
        print(f"Orthanc with DICOMweb at {orthanc.dicomweb_url}")
        os.environ["AIRFLOW_CONN_DICOMWEB_DEFAULT"] = json.dumps(
            {
                "conn_type": "dicomweb",
                "host": orthanc.dicomweb_url,
                "login": orthanc.username,
                "password": orthanc.password,
                "extra": {"caret_as_wildcard": True},
            }
        )
        from airflow_dicomweb.hooks.dicomweb import DicomWebHook

        hook = DicomWebHook()
        print(f"\n1. store_instances({inbox})")
        result = hook.store_instances([inbox])
        for outcome in result.outcomes:
            print(f"   {outcome}")
        print(f"   => {result}")

        print("\n2. search_for_studies()")
        studies = hook.search_for_studies(includefield=["PatientName", "StudyDate"])
        for study in studies:
            name = (study.get("00100010", {}).get("Value") or [{}])[0].get("Alphabetic", "")
            print(f"   {study['0020000D']['Value'][0]}  {name}")
        demo = hook.search_for_studies({"PatientName": "DEMO^PATIENT"})
        print(
            f"   PatientName=DEMO^PATIENT -> {len(demo)} study, "
            f"{len(hook.search_for_instances(demo[0]['0020000D']['Value'][0]))} instances"
        )

        print(f"\n3. retrieve_study(...) into {work / 'out'}")
        sources = {o.sop_instance_uid: Path(o.path) for o in result.stored}
        identical = 0
        retrieved = 0
        for study in studies:
            paths = hook.retrieve_study(study["0020000D"]["Value"][0], work / "out")
            retrieved += len(paths)
            identical += sum(p.read_bytes() == sources[p.stem].read_bytes() for p in paths)
            print(f"   {study['0020000D']['Value'][0]}: {len(paths)} files")
        print(f"   => {retrieved} files retrieved, {identical} byte-identical to what was stored")
        ok = result.stored and identical == retrieved == len(result.stored) and len(result.failed) == 1
        print("\nDemo", "succeeded" if ok else "FAILED")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

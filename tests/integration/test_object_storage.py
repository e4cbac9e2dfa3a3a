"""Object storage in and out, on a real S3 API (moto in server mode) and on ``file://``: stores from a prefix
and a glob, a retrieve killed half-way and resumed (nothing partial ever visible), and every output."""

import io
import json
import os

import pytest
from PIL import Image
from pydicom.uid import generate_uid

from airflow_dicomweb.core.errors import DicomWebStorageError
from airflow_dicomweb.operators.metadata import DicomWebRetrieveMetadataOperator
from airflow_dicomweb.operators.rendered import DicomWebRetrieveRenderedOperator
from airflow_dicomweb.operators.retrieve import DicomWebRetrieveOperator
from airflow_dicomweb.operators.search import DicomWebSearchOperator
from airflow_dicomweb.operators.store import DicomWebStoreOperator
from tests.dicom_factory import make_series
from tests.fakes.fault_proxy import FaultProxy
from tests.integration.test_faults import kill_when, run_in_child, sop_uid


@pytest.fixture(params=["s3", "file"])
def root(request, tmp_path) -> str:
    """A folder as a DAG names it: a bucket prefix on the S3 API, or a file:// URL."""
    if request.param == "s3":
        return request.getfixturevalue("bucket") + "/run"
    return f"file://{tmp_path}/store"


def storage(url: str):
    from airflow.sdk import ObjectStoragePath

    return ObjectStoragePath(url)


def upload(files, url: str) -> None:
    for path in files:
        target = storage(f"{url}/{path.name}")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())


def objects(url: str) -> dict[str, bytes]:
    """Every object (file) under a final name: what a reader of the store would see now."""
    folder = storage(url)
    folder.fs.invalidate_cache()  # others write there: no cached listing
    if not folder.exists():
        return {}
    return {
        str(p): p.read_bytes()
        for p in folder.rglob("*")
        if p.is_file() and not p.name.startswith(".dicomweb-")
    }


def test_store_from_a_prefix_then_a_glob(root, orthanc_conn_id, clean_orthanc, tmp_path):
    study = generate_uid()
    a = make_series(tmp_path / "a", 3, study_uid=study)
    b = make_series(tmp_path / "b", 2, study_uid=study)
    upload(a, f"{root}/landing/a")
    upload(b, f"{root}/landing/b/deeper")
    storage(f"{root}/landing/b/notes.txt").write_text("not DICOM")

    first = DicomWebStoreOperator(task_id="p", files=f"{root}/landing/a/", dicomweb_conn_id=orthanc_conn_id)
    summary = first.execute({})
    assert (summary["stored"], summary["failed"]) == (3, 0)
    second = DicomWebStoreOperator(
        task_id="g",
        files=[f"{root}/landing/**/*.dcm", f"{root}/landing/b/notes.txt"],
        dicomweb_conn_id=orthanc_conn_id,
        fail_on_error=False,
        return_outcomes=True,
    ).execute({})
    assert (second["stored"], second["already_present"], second["failed"]) == (2, 3, 1)
    assert clean_orthanc.count_instances() == 5
    failed = next(o for o in second["outcomes"] if o["status"] == "failed")
    assert failed["path"] == f"{root}/landing/b/notes.txt" and "not a DICOM Part 10 file" in failed["reason"]
    for outcome in second["outcomes"]:
        assert storage(outcome["path"]).exists()  # results name objects as the DAG can open them again


def test_every_output_lands_in_the_store(root, orthanc_conn_id, clean_orthanc, hook, tmp_path):
    study = generate_uid()
    assert hook.store_instances(make_series(tmp_path / "s", 2, study_uid=study, rows=64, columns=64)).ok
    common = {"study_instance_uid": study, "dicomweb_conn_id": orthanc_conn_id}
    meta = DicomWebRetrieveMetadataOperator(
        task_id="m", output_path=f"{root}/metadata/{{study_instance_uid}}.json", **common
    ).execute({})
    assert meta == f"{root}/metadata/{study}.json" and len(json.loads(storage(meta).read_text())) == 2
    png = DicomWebRetrieveRenderedOperator(
        task_id="r", output_path=f"{root}/previews/{{study_instance_uid}}.png", viewport=(32, 32), **common
    ).execute({})
    assert Image.open(io.BytesIO(storage(png).read_bytes())).size == (32, 32)
    found = DicomWebSearchOperator(
        task_id="q", level="instances", output_path=f"{root}/search/{{study_instance_uid}}.json", **common
    ).execute({})
    assert len(json.loads(storage(found).read_text())) == 2
    retrieved = DicomWebRetrieveOperator(task_id="d", dest_dir=f"{root}/dicom", **common).execute({})
    assert retrieved["count"] == 2 and all(storage(p).exists() for p in retrieved["paths"])
    assert not [k for k in objects(root) if "partial" in k]


def test_a_retrieve_killed_half_way_resumes_and_nothing_partial_is_ever_visible(
    root, moto_server, orthanc_conn_id, clean_orthanc, hook, tmp_path
):
    study = generate_uid()
    sources = {
        sop_uid(f): f for f in make_series(tmp_path / "src", 40, study_uid=study, rows=256, columns=256)
    }
    assert hook.store_instances(list(sources.values())).ok
    dest = f"{root}/export"
    child_dest = dest.replace("s3://aws_moto@", "s3://")  # the child is the core alone: no Airflow connection
    with FaultProxy(clean_orthanc.port, {"trickle": 1.0}, trickle_pause=0.3) as slow:
        child = run_in_child(
            CHILD_RETRIEVE_TO_URL,
            {
                "URL": f"{slow.url}/dicom-web",
                "LOGIN": clean_orthanc.username,
                "PASSWORD": clean_orthanc.password,
                "STUDY": study,
                "DEST": child_dest,
                "STORAGE_OPTIONS": json.dumps(moto_server.storage_options() if root.startswith("s3") else {}),
            },
        )
        seen_partial: list[str] = []

        def enough() -> bool:
            visible = objects(dest)
            seen_partial.extend(
                k for k, data in visible.items() if data != sources[k.rsplit("/", 1)[-1][:-4]].read_bytes()
            )
            return len(visible) >= 8

        kill_when(child, enough)
    kept = objects(dest)
    assert 8 <= len(kept) < 40
    assert seen_partial == []  # every object ever visible was whole

    op = DicomWebRetrieveOperator(
        task_id="d", study_instance_uid=study, dest_dir=dest, dicomweb_conn_id=orthanc_conn_id
    )
    assert op.execute({})["count"] == 40
    final = objects(dest)
    assert len(final) == 40
    for key, data in final.items():
        assert data == sources[key.rsplit("/", 1)[-1][:-4]].read_bytes()


CHILD_RETRIEVE_TO_URL = """
import json, os
from airflow_dicomweb.core.client import DicomWebClient
from upath import UPath
c = DicomWebClient.from_url(os.environ["URL"], login=os.environ["LOGIN"], password=os.environ["PASSWORD"])
dest = UPath(os.environ["DEST"], **json.loads(os.environ["STORAGE_OPTIONS"]))
c.retrieve_study(os.environ["STUDY"], dest)
"""


def test_a_missing_bucket_is_a_typed_error_naming_it(bucket, orthanc_conn_id, clean_orthanc, hook, tmp_path):
    study = generate_uid()
    assert hook.store_instances(make_series(tmp_path, 1, study_uid=study)).ok
    missing = "s3://aws_moto@no-such-bucket-here/export"
    op = DicomWebRetrieveOperator(
        task_id="d", study_instance_uid=study, dest_dir=missing, dicomweb_conn_id=orthanc_conn_id
    )
    with pytest.raises(DicomWebStorageError, match=r"s3://aws_moto@no-such-bucket-here/export/.*not found"):
        op.execute({})
    result = DicomWebStoreOperator(
        task_id="s", files=f"{missing}/", dicomweb_conn_id=orthanc_conn_id, fail_on_error=False
    ).execute({})
    assert result["failed"] == 1
    assert result["failures"][0]["path"] == "s3://aws_moto@no-such-bucket-here/export"
    assert os.environ["AIRFLOW_CONN_AWS_MOTO"]  # the object store's own connection, not the DICOMweb one


def test_a_refused_credential_is_a_typed_error_naming_the_url(
    refusing_s3, orthanc_conn_id, clean_orthanc, hook, monkeypatch, tmp_path
):
    monkeypatch.setenv("AIRFLOW_CONN_AWS_REFUSED", json.dumps(refusing_s3.connection()))
    study = generate_uid()
    assert hook.store_instances(make_series(tmp_path, 1, study_uid=study)).ok
    dest = "s3://aws_refused@some-bucket/export"
    op = DicomWebRetrieveOperator(
        task_id="d", study_instance_uid=study, dest_dir=dest, dicomweb_conn_id=orthanc_conn_id
    )
    with pytest.raises(DicomWebStorageError, match=r"s3://aws_refused@some-bucket/export.*access refused"):
        op.execute({})
    result = DicomWebStoreOperator(
        task_id="s", files=[f"{dest}/", str(tmp_path)], dicomweb_conn_id=orthanc_conn_id, fail_on_error=False
    ).execute({})
    assert (result["already_present"], result["failed"]) == (1, 1)  # the local input went on
    assert "access refused" in result["failures"][0]["reason"]


def dicom_files_under(*folders) -> list[str]:
    """Files on local disk that hold DICOM data (the 'DICM' prefix), or a partial download."""
    found = []
    for folder in folders:
        for root_dir, _, names in os.walk(folder):
            for name in names:
                path = os.path.join(root_dir, name)
                with open(path, "rb") as handle:
                    head = handle.read(132)
                if head[128:132] == b"DICM" or name.endswith(".partial"):
                    found.append(path)
    return found


def test_an_ingest_then_export_from_and_to_s3_never_puts_data_on_local_disk(
    dagbag, bucket, orthanc_conn_id, clean_orthanc, tmp_path, monkeypatch
):
    import tempfile

    from tests.conftest import _AIRFLOW_HOME

    study = generate_uid()
    sources = make_series(tmp_path / "src", 4, study_uid=study, study_date="20230606")
    upload(sources, f"{bucket}/landing/modality")
    storage(f"{bucket}/landing/notes.txt").write_text("not DICOM")
    for path in sources:
        path.unlink()  # from here on, the data exists only in the bucket (and on the DICOMweb server)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))

    ingest = dagbag.dags["dicomweb_ingest"].test(
        run_conf={
            "landing_dir": f"{bucket}/landing",
            "done_dir": f"{bucket}/done",
            "quarantine_dir": f"{bucket}/quarantine",
            "min_age_seconds": 0,
            "dicomweb_conn_id": orthanc_conn_id,
        }
    )
    assert str(ingest.state) == "success"
    assert clean_orthanc.count_instances() == 4
    assert len(objects(f"{bucket}/done")) == 4 and objects(f"{bucket}/landing") == {}
    assert "not a DICOM Part 10 file" in storage(f"{bucket}/quarantine/notes.txt.reason.txt").read_text()

    export = dagbag.dags["dicomweb_export"].test(
        run_conf={
            "study_date": "20230606",
            "export_dir": f"{bucket}/export",
            "dicomweb_conn_id": orthanc_conn_id,
        }
    )
    assert str(export.state) == "success"
    exported = objects(f"{bucket}/export")
    assert sum(k.endswith(".dcm") for k in exported) == 4
    assert (
        f"{bucket}/export/metadata/{study}.json" in exported
        and f"{bucket}/export/previews/{study}.png" in exported
    )
    assert dicom_files_under(tmp_path, _AIRFLOW_HOME) == []

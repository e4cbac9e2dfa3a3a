"""Operators, sensors and triggers against the real Orthanc and the Google emulator, run directly."""

import asyncio
import io
import json
from pathlib import Path

import pytest
from PIL import Image
from pydicom.uid import generate_uid

from airflow_dicomweb.operators.bulkdata import DicomWebRetrieveBulkdataOperator
from airflow_dicomweb.operators.delete import DicomWebDeleteOperator
from airflow_dicomweb.operators.metadata import DicomWebRetrieveMetadataOperator
from airflow_dicomweb.operators.rendered import DicomWebRetrieveRenderedOperator
from airflow_dicomweb.operators.retrieve import DicomWebRetrieveOperator
from airflow_dicomweb.operators.search import DicomWebSearchOperator
from airflow_dicomweb.operators.store import DicomWebStoreOperator
from airflow_dicomweb.operators.store_jpeg import DicomWebStoreJpegOperator
from airflow_dicomweb.sensors.operation import DicomWebOperationSensor
from airflow_dicomweb.sensors.search import DicomWebSearchSensor
from airflow_dicomweb.triggers.operation import DicomWebOperationTrigger
from airflow_dicomweb.triggers.search import DicomWebSearchTrigger
from tests.connections import google_connection
from tests.dicom_factory import make_series


def run_trigger(trigger):
    async def first_event():
        return await trigger.run().asend(None)

    return asyncio.run(first_event()).payload


@pytest.fixture
def study(hook, tmp_path):
    uid = generate_uid()
    files = make_series(tmp_path / "src", 4, study_uid=uid, rows=32, columns=32, study_date="20240115")
    assert hook.store_instances(files).ok
    return uid, files


def test_store_operator_fails_after_trying_every_file_and_names_them(
    orthanc_conn_id, clean_orthanc, tmp_path
):
    from airflow.sdk.exceptions import AirflowException

    files = make_series(tmp_path, 3)
    (tmp_path / "bad.dcm").write_text("junk")
    op = DicomWebStoreOperator(task_id="s", files=[str(tmp_path)], dicomweb_conn_id=orthanc_conn_id)
    with pytest.raises(
        AirflowException, match=r"1 of 4 inputs were not stored:\n.*bad.dcm: failed: not stored"
    ):
        op.execute({})
    assert clean_orthanc.count_instances() == 3  # the good ones were stored all the same
    lenient = DicomWebStoreOperator(
        task_id="s2",
        files=str(tmp_path),
        fail_on_error=False,
        return_outcomes=True,
        dicomweb_conn_id=orthanc_conn_id,
    )
    summary = lenient.execute({})
    assert (summary["stored"], summary["already_present"], summary["failed"]) == (0, 3, 1)
    assert len(summary["sop_instance_uids"]) == 3 and len(summary["outcomes"]) == 4
    json.dumps(summary)  # XCom-serializable
    assert str(files[0]) in {o["path"] for o in summary["outcomes"]}


def test_search_operator_returns_matches_or_writes_a_file(orthanc_conn_id, study, tmp_path):
    uid, _ = study
    op = DicomWebSearchOperator(
        task_id="q", level="instances", study_instance_uid=uid, dicomweb_conn_id=orthanc_conn_id
    )
    assert len(op.execute({})) == 4
    to_file = DicomWebSearchOperator(
        task_id="q2",
        level="instances",
        study_instance_uid=uid,
        output_path=str(tmp_path / "{study_instance_uid}.json"),
        dicomweb_conn_id=orthanc_conn_id,
    )
    path = to_file.execute({})
    assert path == str(tmp_path / f"{uid}.json") and len(json.loads(Path(path).read_text())) == 4
    from airflow.sdk.exceptions import AirflowException

    small = DicomWebSearchOperator(
        task_id="q3", level="instances", max_xcom_results=2, dicomweb_conn_id=orthanc_conn_id
    )
    with pytest.raises(AirflowException, match="more than 2 results, too many for XCom: set output_path"):
        small.execute({})


def test_retrieve_metadata_rendered_and_bulkdata_operators(orthanc_conn_id, study, tmp_path):
    uid, _ = study
    retrieved = DicomWebRetrieveOperator(
        task_id="r", study_instance_uid=uid, dest_dir=str(tmp_path / "out"), dicomweb_conn_id=orthanc_conn_id
    ).execute({})
    assert retrieved["count"] == 4 and len(retrieved["paths"]) == 4
    again = DicomWebRetrieveOperator(
        task_id="r",
        study_instance_uid=uid,
        dest_dir=str(tmp_path / "out"),
        max_xcom_paths=2,
        dicomweb_conn_id=orthanc_conn_id,
    ).execute({})
    assert again == {"folder": str(tmp_path / "out"), "count": 4}
    md_path = DicomWebRetrieveMetadataOperator(
        task_id="m",
        study_instance_uid=uid,
        output_path=str(tmp_path / "md" / "{study_instance_uid}.json"),
        dicomweb_conn_id=orthanc_conn_id,
    ).execute({})
    metadata = json.loads(Path(md_path).read_text())
    assert len(metadata) == 4
    png = DicomWebRetrieveRenderedOperator(
        task_id="p",
        study_instance_uid=uid,
        output_path=str(tmp_path / "{study_instance_uid}.png"),
        viewport=(16, 16),
        dicomweb_conn_id=orthanc_conn_id,
    ).execute({})
    assert Image.open(png).size == (16, 16)
    series, sop = metadata[0]["0020000E"]["Value"][0], metadata[0]["00080018"]["Value"][0]
    raw = DicomWebRetrieveBulkdataOperator(
        task_id="b",
        study_instance_uid=uid,
        series_instance_uid=series,
        sop_instance_uid=sop,
        tag_path="7FE00010",
        output_path=str(tmp_path / "{sop_instance_uid}.raw"),
        dicomweb_conn_id=orthanc_conn_id,
    ).execute({})
    assert Path(raw).stat().st_size == 32 * 32 * 2


def test_store_jpeg_operator_with_a_metadata_file(orthanc_conn_id, clean_orthanc, tmp_path):
    for n in range(2):
        buf = io.BytesIO()
        Image.new("L", (20, 10), n * 100).save(buf, "JPEG")
        (tmp_path / f"{n}.jpg").write_bytes(buf.getvalue())
    (tmp_path / "metadata.json").write_text(
        json.dumps(
            {
                "0020000D": {"vr": "UI", "Value": [generate_uid()]},
                "0020000E": {"vr": "UI", "Value": [generate_uid()]},
                "00100010": {"vr": "PN", "Value": [{"Alphabetic": "JPEG^TEST"}]},
            }
        )
    )
    summary = DicomWebStoreJpegOperator(
        task_id="j",
        jpeg_files=str(tmp_path / "*.jpg"),
        metadata=str(tmp_path / "metadata.json"),
        dicomweb_conn_id=orthanc_conn_id,
    ).execute({})
    assert summary["stored"] == 2 and clean_orthanc.count_instances() == 2


def test_search_sensor_pokes_and_defers(orthanc_conn_id, study):
    from airflow.sdk.exceptions import TaskDeferred

    uid, _ = study
    sensor = DicomWebSearchSensor(
        task_id="w", level="instances", study_instance_uid=uid, min_count=4, dicomweb_conn_id=orthanc_conn_id
    )
    assert sensor.poke({}) is True
    assert (
        DicomWebSearchSensor(
            task_id="w2",
            level="instances",
            study_instance_uid=uid,
            min_count=5,
            dicomweb_conn_id=orthanc_conn_id,
        ).poke({})
        is False
    )
    deferring = DicomWebSearchSensor(
        task_id="w3",
        level="instances",
        study_instance_uid=uid,
        min_count=4,
        deferrable=True,
        poke_interval=0.1,
        dicomweb_conn_id=orthanc_conn_id,
    )
    with pytest.raises(TaskDeferred) as info:
        deferring.execute({})
    event = run_trigger(info.value.trigger)
    assert event == {"status": "success", "count": 4}
    assert deferring.execute_complete({}, event) == 4


def test_delete_operator_on_orthanc_fails_or_skips_with_the_reason(orthanc_conn_id, study):
    from airflow.sdk.exceptions import AirflowSkipException

    from airflow_dicomweb.core.errors import DicomWebDeleteNotSupportedError

    uid, _ = study
    with pytest.raises(DicomWebDeleteNotSupportedError, match="does not support DICOMweb delete"):
        DicomWebDeleteOperator(task_id="d", study_instance_uid=uid, dicomweb_conn_id=orthanc_conn_id).execute(
            {}
        )
    with pytest.raises(AirflowSkipException, match="does not support DICOMweb delete"):
        DicomWebDeleteOperator(
            task_id="d", study_instance_uid=uid, on_unsupported="skip", dicomweb_conn_id=orthanc_conn_id
        ).execute({})


@pytest.fixture
def google_conn_id(google, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_DICOMWEB_GOOGLE_OPS", google_connection(google))
    return "dicomweb_google_ops"


def stored_in_google(conn_id, tmp_path):
    from airflow_dicomweb.hooks.dicomweb import DicomWebHook

    uid = generate_uid()
    assert DicomWebHook(conn_id).store_instances(make_series(tmp_path, 2, study_uid=uid)).ok
    return uid


def test_deferrable_delete_waits_in_the_trigger(google_conn_id, google, clean_orthanc, tmp_path):
    from airflow.sdk.exceptions import TaskDeferred

    uid = stored_in_google(google_conn_id, tmp_path)
    op = DicomWebDeleteOperator(
        task_id="d",
        study_instance_uid=uid,
        deferrable=True,
        poll_interval=0.05,
        dicomweb_conn_id=google_conn_id,
    )
    with pytest.raises(TaskDeferred) as info:
        op.execute({})
    trigger = info.value.trigger
    assert isinstance(trigger, DicomWebOperationTrigger)
    event = run_trigger(trigger)
    assert event["status"] == "success" and event["counter"]["success"] == 2
    assert op.execute_complete({}, event) == trigger.operation_name
    assert clean_orthanc.count_instances() == 0


def test_operation_sensor_poke_reschedule_and_deferrable_and_failure(google_conn_id, google, tmp_path):
    from airflow.sdk.exceptions import AirflowException, TaskDeferred

    uid = stored_in_google(google_conn_id, tmp_path)
    google.hold_operations()
    name = DicomWebDeleteOperator(
        task_id="d", study_instance_uid=uid, wait_for_completion=False, dicomweb_conn_id=google_conn_id
    ).execute({})
    sensor = DicomWebOperationSensor(
        task_id="s", operation_name=name, dicomweb_conn_id=google_conn_id, mode="reschedule"
    )
    assert sensor.poke({}) is False  # still running
    google.release_operations()
    deferring = DicomWebOperationSensor(
        task_id="s2",
        operation_name=name,
        deferrable=True,
        poke_interval=0.05,
        dicomweb_conn_id=google_conn_id,
    )
    with pytest.raises(TaskDeferred) as info:
        deferring.execute({})
    assert run_trigger(info.value.trigger)["status"] == "success"
    assert sensor.poke({}) is True

    uid2 = stored_in_google(google_conn_id, tmp_path / "2")
    google.fail_next_operation = {"code": 13, "message": "internal failure while deleting"}
    name2 = DicomWebDeleteOperator(
        task_id="d", study_instance_uid=uid2, wait_for_completion=False, dicomweb_conn_id=google_conn_id
    ).execute({})
    failing = DicomWebOperationSensor(
        task_id="s3",
        operation_name=name2,
        deferrable=True,
        poke_interval=0.05,
        dicomweb_conn_id=google_conn_id,
    )
    with pytest.raises(TaskDeferred) as info:
        failing.execute({})
    event = run_trigger(info.value.trigger)
    assert event == {
        "status": "error",
        "operation": name2,
        "code": 13,
        "message": "internal failure while deleting",
    }
    with pytest.raises(AirflowException, match="failed with code 13: internal failure while deleting"):
        failing.execute_complete({}, event)


def test_triggers_serialize_round_trip():
    import importlib

    for trigger in (
        DicomWebOperationTrigger("projects/p/locations/l/datasets/d/operations/1", "c", 2.5, 30.0),
        DicomWebSearchTrigger(
            "instances", {"filters": {"PatientName": "DOE*"}, "study_instance_uid": "1.2"}, 3, "c", 9
        ),
    ):
        classpath, kwargs = trigger.serialize()
        json.dumps(kwargs)
        module, _, name = classpath.rpartition(".")
        again = getattr(importlib.import_module(module), name)(**kwargs)
        assert again.serialize() == (classpath, kwargs)


def test_operators_template_the_values_a_dag_author_computes_per_run():
    expected = {
        DicomWebStoreOperator: {"files", "study_instance_uid", "storage_class", "dicomweb_conn_id"},
        DicomWebSearchOperator: {"filters", "study_instance_uid", "output_path", "dicomweb_conn_id"},
        DicomWebRetrieveOperator: {
            "study_instance_uid",
            "series_instance_uid",
            "sop_instance_uid",
            "dest_dir",
        },
        DicomWebDeleteOperator: {"study_instance_uid", "series_instance_uid", "sop_instance_uid"},
        DicomWebOperationSensor: {"operation_name", "dicomweb_conn_id"},
        DicomWebSearchSensor: {"filters", "study_instance_uid", "min_count"},
    }
    for cls, fields in expected.items():
        assert fields <= set(cls.template_fields), cls


def test_store_skip_existing_is_passed_through_both_ways(orthanc_conn_id, clean_orthanc, tmp_path):
    """The default asks the server first and reports what it holds as already present; False sends every
    file (Orthanc then answers 200 for instances it already had)."""
    files = [str(p) for p in make_series(tmp_path, 3)]
    assert (
        DicomWebStoreOperator(task_id="a", files=files, dicomweb_conn_id=orthanc_conn_id).execute({})[
            "stored"
        ]
        == 3
    )
    again = DicomWebStoreOperator(task_id="b", files=files, dicomweb_conn_id=orthanc_conn_id).execute({})
    assert (again["stored"], again["already_present"]) == (0, 3)
    forced = DicomWebStoreOperator(
        task_id="c", files=files, skip_existing=False, dicomweb_conn_id=orthanc_conn_id
    ).execute({})
    assert (forced["stored"], forced["already_present"]) == (3, 0)
    as_text = DicomWebStoreOperator(
        task_id="d", files=files, skip_existing="False", dicomweb_conn_id=orthanc_conn_id
    ).execute({})
    assert (as_text["stored"], as_text["already_present"]) == (3, 0)  # "False" is not truthy here
    assert "skip_existing" not in DicomWebStoreOperator.template_fields


def test_deferrable_defaults_follow_airflow_operators_default_deferrable():
    """As in Airflow's own providers: ``[operators] default_deferrable`` sets the default of the delete
    operator and both sensors; an explicit argument wins."""
    import os
    import subprocess
    import sys

    code = (
        "from airflow_dicomweb.operators.delete import DicomWebDeleteOperator as D\n"
        "from airflow_dicomweb.sensors.operation import DicomWebOperationSensor as O\n"
        "from airflow_dicomweb.sensors.search import DicomWebSearchSensor as S\n"
        "print(D(task_id='d', study_instance_uid='1.2').deferrable,"
        " O(task_id='o', operation_name='x').deferrable, S(task_id='s', level='studies').deferrable,"
        " D(task_id='e', study_instance_uid='1.2', deferrable=False).deferrable)\n"
    )
    for setting, expected in (("True", "True True True False"), ("False", "False False False False")):
        env = {**os.environ, "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": setting}
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        assert out.stdout.split()[-4:] == expected.split(), out.stderr[-2000:]


def test_store_reads_a_manifest_and_names_one_it_cannot_read(orthanc_conn_id, clean_orthanc, tmp_path):
    """A manifest names the inputs one per line (blank lines and comments skipped); one that cannot be read
    fails the task naming it; files and a manifest together are refused."""
    from airflow.sdk.exceptions import AirflowException

    files = [str(p) for p in make_series(tmp_path / "s", 3)]
    manifest = tmp_path / "shard.txt"
    manifest.write_text("# shard 0\n" + "\n".join(files) + "\n\n")
    result = DicomWebStoreOperator(
        task_id="m", manifest=str(manifest), dicomweb_conn_id=orthanc_conn_id
    ).execute({})
    assert result["stored"] == 3 and clean_orthanc.count_instances() == 3
    with pytest.raises(AirflowException, match=r"manifest .*missing\.txt"):
        DicomWebStoreOperator(
            task_id="n", manifest=str(tmp_path / "missing.txt"), dicomweb_conn_id=orthanc_conn_id
        ).execute({})
    with pytest.raises(ValueError, match="either files or a manifest"):
        DicomWebStoreOperator(task_id="o", files=files, manifest=str(manifest))
    assert "manifest" in DicomWebStoreOperator.template_fields

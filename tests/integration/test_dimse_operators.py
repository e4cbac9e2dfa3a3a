"""The ``dimse`` connection, its hook (test_connection is a C-ECHO) and the DIMSE operators, against Orthanc's
DICOM server and dcmtk's storescp; the transfer operator with a ``dimse`` source."""

from __future__ import annotations

import io
import json

import pydicom
import pytest

from tests.connections import orthanc_connection
from tests.integration.test_dimse import sop

pytestmark = pytest.mark.usefixtures("orthanc_peer")


def dimse_connection(port: int, called: str, **extra) -> str:
    return json.dumps(
        {"conn_type": "dimse", "host": "127.0.0.1", "port": port, "extra": {"called_aet": called, **extra}}
    )


@pytest.fixture
def connections(orthanc_peer, orthanc_dimse, storescp, clean_orthanc, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_DIMSE_ORTHANC", dimse_connection(orthanc_peer.port, "ORTHANC"))
    monkeypatch.setenv(
        "AIRFLOW_CONN_DIMSE_ORTHANC_MOVE",
        dimse_connection(orthanc_peer.port, "ORTHANC", move_port=orthanc_dimse.move_port),
    )
    monkeypatch.setenv("AIRFLOW_CONN_DIMSE_STORESCP", dimse_connection(storescp.port, storescp.aet))
    monkeypatch.setenv("AIRFLOW_CONN_DIMSE_WRONG", dimse_connection(orthanc_peer.port, "NOT-ORTHANC"))
    monkeypatch.setenv("AIRFLOW_CONN_DICOMWEB_ARCHIVE", orthanc_connection(clean_orthanc))


def test_the_hook_and_the_operators(connections, storescp, dimse_study, tmp_path):
    from airflow.sdk.exceptions import AirflowException

    from airflow_dicomweb.hooks.dimse import DimseHook
    from airflow_dicomweb.operators.dimse_find import DimseFindOperator
    from airflow_dicomweb.operators.dimse_retrieve import DimseRetrieveOperator
    from airflow_dicomweb.operators.dimse_store import DimseStoreOperator

    uid, files = dimse_study
    ok, message = DimseHook("dimse_orthanc").test_connection()
    assert ok and "ORTHANC@127.0.0.1" in message
    ok, message = DimseHook("dimse_wrong").test_connection()
    assert not ok and ("called AE title not recognized" in message or "check them" in message)

    stored = DimseStoreOperator(
        task_id="store", dimse_conn_id="dimse_orthanc", files=[str(f) for f in files]
    ).execute({})
    assert stored["stored"] == 6 and stored["failed"] == 0
    with pytest.raises(AirflowException, match="1 of 6 inputs were not stored") as raised:
        DimseStoreOperator(
            task_id="s2", dimse_conn_id="dimse_storescp", files=[str(f) for f in files]
        ).execute({})
    assert sop(files[-1]) in str(raised.value) and len(storescp.received()) == 5

    series = DimseFindOperator(
        task_id="find", dimse_conn_id="dimse_orthanc", level="series", study_instance_uid=uid
    ).execute({})
    assert len(series) == 3 and all(s["0020000D"]["Value"] == [uid] for s in series)
    with pytest.raises(AirflowException, match="more than 2 results"):
        DimseFindOperator(
            task_id="f2", dimse_conn_id="dimse_orthanc", level="instances", max_xcom_results=2
        ).execute({})

    got = DimseRetrieveOperator(
        task_id="get", dimse_conn_id="dimse_orthanc", study_instance_uid=uid, dest_dir=str(tmp_path / "out")
    ).execute({})
    assert got["count"] == 6 and got["completed"] == 6 and got["failed"] == 0
    assert {sop(p) for p in got["paths"]} == {sop(f) for f in files}


def test_the_transfer_operator_copies_from_a_dimse_connection(connections, clean_orthanc, dimse_study):
    from airflow_dicomweb.core.dimse.store import store_files
    from airflow_dicomweb.hooks.dimse import DimseHook
    from airflow_dicomweb.transfers.dicomweb_to_dicomweb import DicomWebTransferOperator

    uid, files = dimse_study
    assert not store_files(DimseHook("dimse_orthanc").peer, files).failed
    op = DicomWebTransferOperator(
        task_id="copy",
        source_conn_id="dimse_orthanc",
        dest_conn_id="dicomweb_archive",
        study_instance_uids=[uid],
    )
    summary = op.execute({})
    assert summary["ok"] and summary["copied"] == 6 and summary["source"].startswith("dimse://ORTHANC@")
    assert clean_orthanc.count_instances() == 6
    for f in files:  # by C-MOVE the stored syntax is kept: the JPEG's pixel data too is identical
        held = pydicom.dcmread(io.BytesIO(clean_orthanc.instance_bytes(sop(f))))
        original = pydicom.dcmread(f)
        assert held.file_meta.TransferSyntaxUID == original.file_meta.TransferSyntaxUID
        assert held.PixelData == original.PixelData
    lineage = op.get_openlineage_facets_on_complete(None)
    assert [d.namespace.split(":")[0] for d in lineage.inputs] == ["dimse"]
    assert lineage.inputs[0].name == f"/ORTHANC/studies/{uid}"

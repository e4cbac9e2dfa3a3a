"""Hostile and broken DIMSE peers, made here with pynetdicom: one that sends an instance without end (the
association is aborted at the cap, nothing is written), one that aborts a C-FIND half way (named), and an SOP
class a peer does not support (a named failure, nothing else lost)."""

from __future__ import annotations

import pydicom
import pytest
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid
from pynetdicom import AE, evt
from pynetdicom.sop_class import (
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
)

from airflow_dicomweb.core.dimse.find import find
from airflow_dicomweb.core.dimse.get import get_into
from airflow_dicomweb.core.dimse.peer import DimsePeer
from airflow_dicomweb.core.dimse.store import store_files
from airflow_dicomweb.core.errors import DimseError
from tests.dicom_factory import make_series
from tests.servers.orthanc_server import free_port


@pytest.fixture
def hostile_peer(tmp_path):
    """A Q/R SCP whose C-GET sends a 4 MiB instance, and whose C-FIND aborts after one match."""
    [big] = make_series(tmp_path / "big", 1, rows=1448, columns=1448)  # about 4 MiB of pixels
    ds = pydicom.dcmread(big)

    def on_get(event):
        yield 1
        yield 0xFF00, ds

    def on_find(event):
        match = pydicom.Dataset()
        match.QueryRetrieveLevel = "STUDY"
        match.StudyInstanceUID = generate_uid()
        yield 0xFF00, match
        event.assoc.abort()

    ae = AE(ae_title="HOSTILE")
    ae.add_supported_context(StudyRootQueryRetrieveInformationModelGet)
    ae.add_supported_context(StudyRootQueryRetrieveInformationModelFind)
    ae.add_supported_context(CTImageStorage, ExplicitVRLittleEndian, scu_role=True, scp_role=True)
    port = free_port()
    server = ae.start_server(
        ("127.0.0.1", port), block=False, evt_handlers=[(evt.EVT_C_GET, on_get), (evt.EVT_C_FIND, on_find)]
    )
    yield DimsePeer("127.0.0.1", port, "HOSTILE", acse_timeout=10, dimse_timeout=20, network_timeout=20), ds
    server.shutdown()


def test_an_instance_past_the_cap_aborts_the_association_and_writes_nothing(hostile_peer, tmp_path):
    peer, ds = hostile_peer
    taken = []
    with pytest.raises(DimseError, match=r"HOSTILE@127\.0\.0\.1"):
        get_into(
            peer,
            lambda temp, header: taken.append(header),
            str(ds.StudyInstanceUID),
            sop_classes=[str(CTImageStorage)],
            max_instance_bytes=1024 * 1024,
        )
    assert taken == []


def test_a_c_find_aborted_half_way_is_named(hostile_peer):
    peer, _ = hostile_peer
    with pytest.raises(DimseError, match=r"HOSTILE@127\.0\.0\.1.*C-FIND"):
        list(find(peer, "studies"))


def test_an_sop_class_the_peer_does_not_take_is_a_named_failure(storescp, tmp_path):
    files = make_series(tmp_path / "ok", 2, rows=8, columns=8)
    [odd] = make_series(tmp_path / "odd", 1, rows=8, columns=8)
    ds = pydicom.dcmread(odd)
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = (
        "1.2.826.0.1.3680043.8.498.1.999"  # no storage class
    )
    ds.save_as(odd)
    result = store_files(DimsePeer("127.0.0.1", storescp.port, storescp.aet), [*files, odd])
    assert len(result.stored) == 2 and len(result.failed) == 1
    assert (
        "1.2.826.0.1.3680043.8.498.1.999" in result.failed[0].reason
        and "accepts no presentation context" in result.failed[0].reason
    )

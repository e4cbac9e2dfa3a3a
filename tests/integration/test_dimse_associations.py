"""How a C-STORE uses its associations: each sends every PDU at once (TCP_NODELAY, as dcmtk does), and a
peer given ``max_associations`` above 1 is sent files on that many at once, the ones it refuses taking
nothing and losing nothing. The peers are Orthanc and a pynetdicom Storage SCP that takes at most two
associations at once and counts how many it holds."""

from __future__ import annotations

import socket
import threading
import time

import pydicom
import pytest
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian
from pynetdicom import AE, evt
from pynetdicom.presentation import build_context

from airflow_dicomweb.core.dimse.association import associated
from airflow_dicomweb.core.dimse.connection import peer_from_connection_fields
from airflow_dicomweb.core.dimse.peer import DimsePeer
from airflow_dicomweb.core.dimse.store import store_files
from airflow_dicomweb.core.errors import DicomWebConfigError
from tests.dicom_factory import make_series
from tests.servers.orthanc_server import free_port


def sop(path) -> str:
    return str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)


class CountingStoreScp:
    """A Storage SCP taking at most ``limit`` associations at once; what it stored, and the most it held."""

    def __init__(self, limit: int) -> None:
        self.port = free_port()
        self.stored: list[str] = []
        self.most_at_once = 0
        self._open = 0
        self._lock = threading.Lock()
        ae = AE(ae_title="COUNTING")
        ae.maximum_associations = limit
        ae.add_supported_context(CTImageStorage, ExplicitVRLittleEndian)
        handlers = [
            (evt.EVT_ESTABLISHED, self._opened),
            (evt.EVT_RELEASED, self._closed),
            (evt.EVT_ABORTED, self._closed),
            (evt.EVT_C_STORE, self._on_store),
        ]
        self.server = ae.start_server(("127.0.0.1", self.port), block=False, evt_handlers=handlers)

    def _opened(self, event) -> None:
        with self._lock:
            self._open += 1
            self.most_at_once = max(self.most_at_once, self._open)

    def _closed(self, event) -> None:
        with self._lock:
            self._open -= 1

    def _on_store(self, event) -> int:
        time.sleep(0.02)  # long enough that the associations overlap
        with self._lock:
            self.stored.append(str(event.request.AffectedSOPInstanceUID))
        return 0x0000


def test_every_association_sends_without_nagle(orthanc_peer):
    context = build_context(CTImageStorage, [ExplicitVRLittleEndian])
    with associated(orthanc_peer, [context]) as assoc:
        connection = assoc.dul.socket.socket
        assert connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


def test_one_association_by_default_and_more_when_the_peer_takes_them(tmp_path):
    files = make_series(tmp_path / "ct", 12, rows=8, columns=8)
    scp = CountingStoreScp(limit=2)
    try:
        one = store_files(DimsePeer("127.0.0.1", scp.port, "COUNTING"), files)
        assert len(one.stored) == 12 and scp.most_at_once == 1

        scp.stored.clear()
        # asks for 4; the peer refuses the 2 beyond its limit, and those take no file
        many = store_files(DimsePeer("127.0.0.1", scp.port, "COUNTING", max_associations=4), files)
    finally:
        scp.server.shutdown()
    assert not many.failed, str(many)
    assert [o.sop_instance_uid for o in many.outcomes] == [sop(f) for f in files]  # in the order given
    assert sorted(scp.stored) == sorted(sop(f) for f in files)  # each once
    assert scp.most_at_once == 2


def test_several_associations_into_orthanc(orthanc_peer, orthanc_dimse, tmp_path):
    files = make_series(tmp_path / "ct", 9, rows=8, columns=8)
    peer = DimsePeer(orthanc_peer.host, orthanc_peer.port, orthanc_peer.called_aet, orthanc_peer.calling_aet,
                     max_associations=3)  # fmt: skip
    result = store_files(peer, files)
    assert len(result.stored) == 9 and not result.failed, str(result)
    assert orthanc_dimse.sop_instance_uids() == {sop(f) for f in files}


def test_a_connection_names_its_associations():
    extra = {"called_aet": "PACS"}
    assert peer_from_connection_fields("pacs", 104, extra).max_associations == 1
    assert peer_from_connection_fields("pacs", 104, {**extra, "max_associations": "4"}).max_associations == 4
    with pytest.raises(DicomWebConfigError, match="max_associations"):
        peer_from_connection_fields("pacs", 104, {**extra, "max_associations": "many"})
    with pytest.raises(DicomWebConfigError, match="max_associations"):
        peer_from_connection_fields("pacs", 104, {**extra, "max_associations": 0})

"""``dicomweb receive``, the DIMSE gateway, fed by dcmtk's storescu and by pynetdicom: forwarded to Orthanc's
DICOMweb every instance is there once; landed in a folder, a gateway killed mid-association has acknowledged
nothing it does not hold; a calling AE title off the allow-list is rejected; an instance past the size cap
aborts its association and lands nothing; a store that refuses is answered with a failure status."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pydicom
import pytest
from pydicom.uid import generate_uid

from airflow_dicomweb.core.dicom.instance_header import read_instance_header
from airflow_dicomweb.core.dimse.peer import DimsePeer
from airflow_dicomweb.core.dimse.store import store_files
from tests.dicom_factory import make_series
from tests.servers.orthanc_server import free_port
from tests.servers.processes import stop_group

STARTED: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def no_gateway_outlives_its_test():
    """Every gateway a test started is gone once the test ends, whatever happened in it."""
    yield
    while STARTED:
        stop_group(STARTED.pop(), timeout=10)


class Gateway:
    """``dicomweb [URL] receive --aet GATEWAY --port N ...`` as a process of its own."""

    def __init__(self, *args: str, url_args: tuple[str, ...] = (), env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "airflow_dicomweb.cli", "--retries", "1", *url_args, "receive", "--aet", "GATEWAY",
             "--host", "127.0.0.1", "--port", str(self.port), *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**{k: v for k, v in os.environ.items() if not k.startswith("DICOMWEB_")}, **(env or {})},
            start_new_session=True,
        )  # fmt: skip
        STARTED.append(self.process)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            if self.process.poll() is not None:
                raise RuntimeError(f"the gateway exited: {self.process.stderr.read()}")
            time.sleep(0.05)
        raise RuntimeError("the gateway did not listen")

    @property
    def peer(self) -> DimsePeer:
        return DimsePeer("127.0.0.1", self.port, "GATEWAY")

    def stop(self) -> tuple[list[dict], str]:
        """SIGTERM, then its JSON lines and its stderr."""
        self.process.send_signal(signal.SIGTERM)
        out, err = self.process.communicate(timeout=30)
        return [json.loads(line) for line in out.splitlines() if line.strip()], err


def storescu(port: int, folder: Path, calling: str = "STORESCU") -> subprocess.CompletedProcess:
    return subprocess.run(
        ["storescu", "-aet", calling, "-aec", "GATEWAY", "+sd", "+r", "127.0.0.1", str(port), str(folder)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_storescu_sends_a_folder_forwarded_to_orthanc_once_each(clean_orthanc, tmp_path):
    uid = generate_uid()
    files = make_series(tmp_path / "in" / "a", 12, study_uid=uid, rows=16, columns=16)
    files += make_series(tmp_path / "in" / "b", 8, study_uid=uid, rows=16, columns=16, modality="MR")
    gateway = Gateway(
        url_args=("--user", clean_orthanc.username, clean_orthanc.dicomweb_url),
        env={"DICOMWEB_PASSWORD": clean_orthanc.password},
    )
    sent = storescu(gateway.port, tmp_path / "in")
    lines, err = gateway.stop()
    assert sent.returncode == 0, sent.stderr
    assert clean_orthanc.count_instances() == 20
    assert clean_orthanc.sop_instance_uids() == {
        str(pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID) for f in files
    }
    assert (
        len(lines) == 20
        and {line["status"] for line in lines} == {0}
        and lines[0]["calling_aet"] == "STORESCU"
    )
    assert clean_orthanc.password not in err + json.dumps(lines)
    again = storescu(Gateway(url_args=("--user", clean_orthanc.username, clean_orthanc.dicomweb_url),
                             env={"DICOMWEB_PASSWORD": clean_orthanc.password}).port, tmp_path / "in")  # fmt: skip
    assert again.returncode == 0 and clean_orthanc.count_instances() == 20  # sent twice, held once


def test_a_gateway_killed_mid_association_has_acknowledged_nothing_it_does_not_hold(tmp_path):
    files = make_series(tmp_path / "in", 60, rows=256, columns=256)
    landing = tmp_path / "landing"
    gateway = Gateway("--dest", str(landing))
    peer = gateway.peer
    answered: dict[str, int] = {}

    import threading

    def send() -> None:
        from pynetdicom import AE

        ae = AE(ae_title="SENDER")
        ds0 = pydicom.dcmread(files[0], stop_before_pixels=True)
        ae.add_requested_context(ds0.SOPClassUID, ds0.file_meta.TransferSyntaxUID)
        assoc = ae.associate(peer.host, peer.port, ae_title=peer.called_aet)
        for f in files:
            if not assoc.is_established:
                break
            status = assoc.send_c_store(str(f))
            answered[str(pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID)] = getattr(
                status, "Status", -1
            )
        if assoc.is_established:
            assoc.release()

    sender = threading.Thread(target=send)
    sender.start()
    deadline = time.monotonic() + 60
    while sum(1 for s in answered.values() if s == 0) < 10 and time.monotonic() < deadline:
        time.sleep(0.01)
    gateway.process.send_signal(signal.SIGKILL)
    gateway.process.wait(10)
    sender.join(60)
    acknowledged = {sop for sop, status in answered.items() if status == 0}
    assert 10 <= len(acknowledged) < 60, len(acknowledged)  # killed mid-association
    landed = {read_instance_header(p).sop_instance_uid: p for p in landing.rglob("*.dcm")}
    assert acknowledged <= set(landed)  # every acknowledged instance is held, whole
    for f in files:
        sop = str(pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID)
        if sop in acknowledged:
            assert pydicom.dcmread(landed[sop]).PixelData == pydicom.dcmread(f).PixelData


def test_the_allow_list_the_size_cap_and_a_refusing_store(clean_orthanc, tmp_path):
    small = make_series(tmp_path / "small", 2, rows=16, columns=16)
    big = make_series(tmp_path / "big", 1, rows=1024, columns=1024)  # 2 MiB
    gateway = Gateway("--dest", str(tmp_path / "landing"), "--allow", "CT01", "--max-instance-mib", "1")
    stranger = store_files(DimsePeer("127.0.0.1", gateway.port, "GATEWAY", calling_aet="STRANGER"), small)
    assert len(stranger.failed) == 2
    assert all("rejected the association from STRANGER" in o.reason for o in stranger.failed)
    allowed = DimsePeer("127.0.0.1", gateway.port, "GATEWAY", calling_aet="CT01")
    assert len(store_files(allowed, small).stored) == 2
    capped = store_files(allowed, big)
    assert capped.failed and not capped.stored
    lines, _ = gateway.stop()
    assert len(list((tmp_path / "landing").rglob("*.dcm"))) == 2 and len(lines) == 2

    refusing = Gateway(
        url_args=("--user", clean_orthanc.username, clean_orthanc.dicomweb_url),
        env={"DICOMWEB_PASSWORD": "not-the-password"},
    )
    refused = store_files(refusing.peer, small)
    lines, _ = refusing.stop()
    assert len(refused.failed) == 2 and all("0xA700" in o.reason for o in refused.failed)
    assert {line["status"] for line in lines} == {0xA700} and "401" in lines[0]["reason"]
    assert clean_orthanc.count_instances() == 0

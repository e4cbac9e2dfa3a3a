"""The compose file's dicomweb-gateway, run as compose runs it on the stack's environment: dcmtk's storescu
sends a folder to it by C-STORE, and every instance reaches the stack's Orthanc through STOW-RS, once."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time

import pydicom

from tests.dicom_factory import make_series
from tests.servers.orthanc_server import free_port
from tests.system.test_example_dags import orthanc_client


def test_storescu_to_the_gateway_service_reaches_orthanc(stack, tmp_path):
    port = free_port()
    gateway = stack.start_gateway(port)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert gateway.poll() is None, stack.tail("gateway")
            time.sleep(0.1)
        assert stack.gateway_healthy(port)  # the compose healthcheck: a C-ECHO
        assert not stack.gateway_healthy(free_port())
        files = make_series(tmp_path / "in", 6, rows=16, columns=16, study_date="20200505")
        sent = subprocess.run(
            ["storescu", "-aet", "CT01", "-aec", "DICOMWEB-GW", "+sd", "127.0.0.1", str(port), str(tmp_path / "in")],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert sent.returncode == 0, sent.stderr
    finally:
        os.killpg(gateway.pid, signal.SIGTERM)
        gateway.wait(30)
    with orthanc_client(stack) as client:
        found = client.search_for_instances(filters={"StudyDate": "20200505"})
    assert {i["00080018"]["Value"][0] for i in found} == {
        str(pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID) for f in files
    }
    lines = [
        json.loads(line)
        for line in (stack.root / "gateway.log").read_text().splitlines()
        if line.startswith("{")
    ]
    assert (
        len(lines) == 6
        and {line["status"] for line in lines} == {0}
        and {line["calling_aet"] for line in lines} == {"CT01"}
    )
    password = (stack.root / "secrets" / "orthanc_password").read_text()
    assert password not in (stack.root / "gateway.log").read_text()

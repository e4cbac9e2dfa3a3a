"""Start and stop a real Orthanc with its DICOMweb plugin on a free loopback port (for tests and benchmarks)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import requests

from tests.servers.processes import stop_group

INSTALL_HINT = (
    "Orthanc with its DICOMweb plugin is required for the integration tests and benchmarks. Install it with\n"
    "    sudo apt-get update && sudo apt-get install -y orthanc orthanc-dicomweb\n"
    "or run scripts/setup.sh, which does that for you. (Set ORTHANC_BINARY / ORTHANC_DICOMWEB_PLUGIN if they\n"
    "live elsewhere.)"
)
DEFAULT_PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"


class OrthancMissing(RuntimeError):
    pass


def find_orthanc() -> tuple[str, str]:
    binary = os.environ.get("ORTHANC_BINARY") or shutil.which("Orthanc") or "/usr/sbin/Orthanc"
    plugin = os.environ.get("ORTHANC_DICOMWEB_PLUGIN") or DEFAULT_PLUGIN
    if not os.access(binary, os.X_OK):
        raise OrthancMissing(f"Orthanc binary not found ({binary}).\n{INSTALL_HINT}")
    if not os.path.exists(plugin):
        raise OrthancMissing(f"Orthanc DICOMweb plugin not found ({plugin}).\n{INSTALL_HINT}")
    return binary, plugin


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OrthancServer:
    """One Orthanc process with its own storage, on 127.0.0.1, with HTTP Basic authentication on."""

    username = "dicomweb-test"
    password = "orthanc-test-password-7f3a"

    def __init__(self, workdir: str | os.PathLike | None = None, **config_overrides) -> None:
        self.binary, self.plugin = find_orthanc()
        self._own_dir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="orthanc-"))
        self.port = free_port()
        self.config_overrides = config_overrides
        self.process: subprocess.Popen | None = None
        self.session = requests.Session()
        self.session.auth = (self.username, self.password)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def dicomweb_url(self) -> str:
        return f"{self.url}/dicom-web"

    def start(self, timeout: float = 30.0) -> OrthancServer:
        storage = self.workdir / "storage"
        logs = self.workdir / "logs"
        storage.mkdir(parents=True, exist_ok=True)
        logs.mkdir(exist_ok=True)
        config = {
            "Name": "airflow-dicomweb-test",
            "StorageDirectory": str(storage),
            "IndexDirectory": str(storage),
            "HttpPort": self.port,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": True,
            "RegisteredUsers": {self.username: self.password},
            "DicomServerEnabled": False,
            "HttpCompressionEnabled": False,
            "StorageCompression": False,
            "SaveJobs": False,
            # A study is StableStudy in Orthanc's /changes this long after its last instance (default 60).
            "StableAge": 2,
            "Plugins": [self.plugin],
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "Host": f"127.0.0.1:{self.port}"},
            **self.config_overrides,
        }
        config_path = self.workdir / "orthanc.json"
        config_path.write_text(json.dumps(config, indent=2))
        self.process = subprocess.Popen(
            [self.binary, f"--logdir={logs}", str(config_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Orthanc exited with {self.process.returncode}; logs in {logs}")
            try:
                if self.session.get(f"{self.url}/system", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"Orthanc did not answer within {timeout} s; logs in {logs}")

    def stop(self) -> None:
        stop_group(self.process, timeout=15)
        self.process = None
        self.session.close()
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # --- Orthanc's own REST API, to check what is on the server ----------------------------------

    def rest(self, method: str, path: str, **kwargs) -> requests.Response:
        response = self.session.request(method, f"{self.url}{path}", timeout=60, **kwargs)
        response.raise_for_status()
        return response

    def wipe(self) -> None:
        """Delete every study."""
        for study_id in self.rest("GET", "/studies").json():
            self.rest("DELETE", f"/studies/{study_id}")

    def count_instances(self) -> int:
        return int(self.rest("GET", "/statistics").json()["CountInstances"])

    def sop_instance_uids(self) -> set[str]:
        ids = self.rest("GET", "/instances").json()
        return {self.rest("GET", f"/instances/{i}").json()["MainDicomTags"]["SOPInstanceUID"] for i in ids}

    def instance_bytes(self, sop_instance_uid: str) -> bytes:
        found = self.rest("POST", "/tools/lookup", data=sop_instance_uid).json()
        instance = next(f["ID"] for f in found if f["Type"] == "Instance")
        return self.rest("GET", f"/instances/{instance}/file").content

    def __enter__(self) -> OrthancServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

"""Start and stop Azurite's queue service (the Azure Storage emulator, from npm) on a free loopback port."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.servers.orthanc_server import free_port
from tests.servers.processes import stop_group

ROOT = Path(__file__).resolve().parents[2]
BINARY = ROOT / ".test-env" / "azurite" / "node_modules" / ".bin" / "azurite-queue"
INSTALL_HINT = (
    "The Event Grid tests need Azurite, the Azure Storage emulator. Install it with scripts/setup.sh, which\n"
    "runs `npm install azurite@3.37.0` in .test-env/azurite (npm from apt-get if missing)."
)
#: Azurite's one account, with the key it documents for every installation.
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


class AzuriteMissing(RuntimeError):
    pass


class AzuriteQueues:
    def __init__(self) -> None:
        if not BINARY.exists() or not shutil.which("node"):
            raise AzuriteMissing(f"Azurite not found ({BINARY}).\n{INSTALL_HINT}")
        self.port = free_port()
        self.workdir = Path(tempfile.mkdtemp(prefix="azurite-"))
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{ACCOUNT}"

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
            f"QueueEndpoint={self.url};"
        )

    def start(self, timeout: float = 30) -> AzuriteQueues:
        self.process = subprocess.Popen(
            [
                str(BINARY),
                "--queueHost",
                "127.0.0.1",
                "--queuePort",
                str(self.port),
                "--location",
                str(self.workdir),
                "--silent",
                "--skipApiVersionCheck",
                "--loose",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Azurite exited with {self.process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"Azurite did not listen within {timeout} s")

    def stop(self) -> None:
        stop_group(self.process)
        self.process = None
        shutil.rmtree(self.workdir, ignore_errors=True)

"""dcmtk's DIMSE peers, started on loopback for the tests: ``storescp`` (a C-STORE SCP that answers no
C-FIND). Missing dcmtk fails the suite with how to install it: it never skips."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.servers.orthanc_server import free_port
from tests.servers.processes import stop_group

INSTALL_HINT = "dcmtk is required for the DIMSE tests: sudo apt-get install -y dcmtk (scripts/setup.sh does)"


class DcmtkMissing(RuntimeError):
    pass


class StoreScp:
    """``storescp -aet AET +xa -od DIR PORT``: accepts every storage SOP class and transfer syntax (with
    ``accept_all``; else only the uncompressed ones) and writes each instance it receives under ``folder``."""

    def __init__(self, aet: str = "STORESCP", accept_all: bool = True) -> None:
        self.binary = shutil.which("storescp")
        if self.binary is None:
            raise DcmtkMissing(f"storescp not found.\n{INSTALL_HINT}")
        self.aet = aet
        self.accept_all = accept_all
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="storescp-"))
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 15.0) -> StoreScp:
        argv = [
            self.binary,
            "-aet",
            self.aet,
            *(["+xa"] if self.accept_all else []),
            "-od",
            str(self.folder),
            str(self.port),
        ]
        self.process = subprocess.Popen(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            if self.process.poll() is not None:
                raise RuntimeError(f"storescp exited with {self.process.returncode}")
            time.sleep(0.05)
        raise RuntimeError(f"storescp did not listen on {self.port} within {timeout} s")

    def received(self) -> list[Path]:
        return sorted(p for p in self.folder.iterdir() if p.is_file())

    def stop(self) -> None:
        stop_group(self.process)
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> StoreScp:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class DcmQrScp:
    """``dcmqrscp``: dcmtk's query/retrieve archive (C-STORE, C-FIND, C-GET, C-MOVE SCP) with one storage
    area, AE title ``aet``, knowing ``DICOMWEB`` at ``move_port`` on this machine as a move destination."""

    def __init__(self, aet: str = "QRSCP") -> None:
        self.binary = shutil.which("dcmqrscp")
        if self.binary is None:
            raise DcmtkMissing(f"dcmqrscp not found.\n{INSTALL_HINT}")
        self.aet = aet
        self.port = free_port()
        self.move_port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="dcmqrscp-"))
        (self.folder / "db").mkdir()
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 15.0) -> DcmQrScp:
        config = self.folder / "dcmqrscp.cfg"
        config.write_text(
            f"NetworkTCPPort = {self.port}\nMaxPDUSize = 16384\nMaxAssociations = 16\n\n"
            f"HostTable BEGIN\ndicomweb = (DICOMWEB, 127.0.0.1, {self.move_port})\nHostTable END\n\n"
            "VendorTable BEGIN\nVendorTable END\n\n"
            f"AETable BEGIN\n{self.aet} {self.folder / 'db'} RW (1000, 1024mb) ANY\nAETable END\n"
        )
        self.process = subprocess.Popen(
            [self.binary, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, cwd=self.folder,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            if self.process.poll() is not None:
                raise RuntimeError(f"dcmqrscp exited with {self.process.returncode}")
            time.sleep(0.05)
        raise RuntimeError(f"dcmqrscp did not listen on {self.port} within {timeout} s")

    def stop(self) -> None:
        stop_group(self.process)
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> DcmQrScp:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

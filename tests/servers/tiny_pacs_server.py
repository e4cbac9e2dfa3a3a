"""Start and stop a real tiny_pacs with its DICOMweb front-end (tiny-pacs-dicomweb, from PyPI) on loopback.

A second real DICOMweb server, written by others, with the limits such servers have: QIDO pages silently
capped at 10,000 results (no ``Warning`` header), no study-level instance search (``/studies/{uid}/instances``
and the top-level ``/series`` and ``/instances`` answer 404), a 204 for an empty search, and 409 with
FailureReason 0x0110 for a duplicate. It runs from its own virtualenv (``.test-env/tiny-pacs``, made by
``scripts/setup.sh`` with the versions pinned there), so its dependencies never meet Airflow's. Requests carry
a static bearer token (its ``auth: token`` mode).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import requests

from tests.servers.orthanc_server import free_port
from tests.servers.processes import stop_group

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BINARY = ROOT / ".test-env" / "tiny-pacs" / "bin" / "tiny-pacs"
INSTALL_HINT = (
    "tiny_pacs with its DICOMweb front-end is required for the integration tests. scripts/setup.sh installs it\n"
    "into .test-env/tiny-pacs; by hand:\n"
    "    python3 -m venv .test-env/tiny-pacs\n"
    "    .test-env/tiny-pacs/bin/pip install 'tiny-pacs[dicomweb]==0.4.1' 'tiny-pacs-dicomweb==0.1.0'\n"
    "(Set TINY_PACS_BINARY if it lives elsewhere.)"
)

CONFIG = """\
ae:
  ae_title: [TINY_PACS]
  port: {dimse_port}
log:
  version: 1
  disable_existing_loggers: false
  handlers:
    console: {{class: logging.StreamHandler, level: WARNING, stream: ext://sys.stderr}}
  root: {{level: WARNING, handlers: [console]}}
components:
  Database: {{'on': true, driver: sqlite, db_name: {db_name}, uri: true, mode: memory}}
  InMemoryStorage: {{'on': true}}
  HttpServer: {{'on': true, host: 127.0.0.1, port: {http_port}}}
  DICOMWeb: {{'on': true, prefix: /dicomweb, auth: token, tokens: ['{token}']}}
"""


class TinyPacsMissing(RuntimeError):
    pass


class TinyPacsServer:
    """One tiny_pacs process, its database and storage in memory, DICOMweb at ``/dicomweb``."""

    token = "tiny-pacs-test-token-5c1e9a"
    #: its QIDO page cap (tiny_pacs_dicomweb.common.MAX_QUERY_LIMIT), applied without a Warning header
    page_cap = 10_000

    def __init__(self) -> None:
        self.binary = Path(os.environ.get("TINY_PACS_BINARY") or DEFAULT_BINARY)
        if not os.access(self.binary, os.X_OK):
            raise TinyPacsMissing(f"tiny-pacs not found ({self.binary}).\n{INSTALL_HINT}")
        self.workdir = Path(tempfile.mkdtemp(prefix="tiny-pacs-"))
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {self.token}"

    @property
    def dicomweb_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/dicomweb"

    def start(self, timeout: float = 60.0) -> TinyPacsServer:
        config = self.workdir / "tiny-pacs.yaml"
        config.write_text(
            CONFIG.format(
                dimse_port=free_port(),
                http_port=self.port,
                db_name=f"tiny-pacs-{self.port}",
                token=self.token,
            )
        )
        log = self.workdir / "tiny-pacs.log"
        with open(log, "wb") as out:
            self.process = subprocess.Popen(
                [str(self.binary), "run", "-c", str(config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=self.workdir,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"tiny-pacs exited with {self.process.returncode}: {log.read_text()[-2000:]}"
                )
            try:
                if self.session.get(f"{self.dicomweb_url}/studies", timeout=1).status_code in (200, 204):
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"tiny-pacs did not answer within {timeout} s")

    def stop(self) -> None:
        stop_group(self.process, timeout=15)
        self.process = None
        self.session.close()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def store(self, parts: list[bytes]) -> None:
        """Store Part 10 instances with STOW-RS, a few hundred per request."""
        for start in range(0, len(parts), 500):
            boundary = "tiny-pacs-test-boundary"
            body = b"".join(
                b"--" + boundary.encode() + b"\r\nContent-Type: application/dicom\r\n\r\n" + part + b"\r\n"
                for part in parts[start : start + 500]
            )
            response = self.session.post(
                f"{self.dicomweb_url}/studies",
                data=body + b"--" + boundary.encode() + b"--\r\n",
                headers={
                    "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
                    "Accept": "application/dicom+json",
                },
                timeout=600,
            )
            response.raise_for_status()

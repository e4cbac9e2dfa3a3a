"""Start and stop a real S3 API on loopback: moto in server mode (``python -m moto.server``)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

import requests

from tests.servers.orthanc_server import free_port
from tests.servers.processes import stop_group

INSTALL_HINT = (
    "The object-storage tests need an S3 API on loopback: moto in server mode, and the amazon provider's s3fs.\n"
    "Install them with scripts/setup.sh (pip install 'moto[server]' 'apache-airflow-providers-amazon[s3fs]'\n"
    "-c deploy/constraints.txt)."
)
ACCESS_KEY, SECRET_KEY, REGION = "testing-key", "testing-secret", "us-east-1"


class MotoMissing(RuntimeError):
    pass


class MotoServer:
    def __init__(self, *, authenticate: bool = False) -> None:
        self.authenticate = authenticate
        try:
            import moto.server  # noqa: F401
            import s3fs  # noqa: F401
        except ImportError as exc:
            raise MotoMissing(f"{exc}.\n{INSTALL_HINT}") from None
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.log = tempfile.NamedTemporaryFile(prefix="moto-", suffix=".log", delete=False)  # noqa: SIM115

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> MotoServer:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            # moto checks credentials (and refuses every key, none being registered) when asked to
            env={**os.environ, **({"INITIAL_NO_AUTH_ACTION_COUNT": "0"} if self.authenticate else {})},
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto exited with {self.process.returncode}; log in {self.log.name}")
            try:
                requests.get(self.url, timeout=1)
                return self
            except requests.RequestException:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"moto did not answer within {timeout} s")

    def stop(self) -> None:
        stop_group(self.process, timeout=10)
        self.process = None

    def connection(self) -> dict:
        """An Airflow ``aws`` connection to this server (dummy keys)."""
        return {
            "conn_type": "aws",
            "extra": {
                "endpoint_url": self.url,
                "aws_access_key_id": ACCESS_KEY,
                "aws_secret_access_key": SECRET_KEY,
                "region_name": REGION,
            },
        }

    def storage_options(self) -> dict:
        """s3fs options for the same server, for code that runs without Airflow."""
        return {
            "key": ACCESS_KEY,
            "secret": SECRET_KEY,
            "client_kwargs": {"endpoint_url": self.url, "region_name": REGION},
        }

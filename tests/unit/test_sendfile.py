"""A body's files go by the kernel's sendfile through this project's connections, and by blocks through
any other (requests' own adapter, as behind a proxy): the server receives the same bytes either way."""

from __future__ import annotations

import http.server
import socketserver
import threading

import pytest
import requests

from airflow_dicomweb.core.http.sendfile import SendfileAdapter
from airflow_dicomweb.core.multipart.writer import BodyPart, FileRegion, MultipartBody


class Recorder(http.server.BaseHTTPRequestHandler):
    received: list[bytes] = []

    def do_POST(self) -> None:
        self.received.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server():
    srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    Recorder.received = []
    yield f"http://127.0.0.1:{srv.server_address[1]}/"
    srv.shutdown()
    srv.server_close()


@pytest.mark.parametrize(
    "adapter", [SendfileAdapter(), requests.adapters.HTTPAdapter()], ids=["sendfile", "blocks"]
)
def test_the_server_receives_every_byte(server, tmp_path, adapter, monkeypatch):
    big, small = tmp_path / "big.dcm", tmp_path / "small.dcm"
    big.write_bytes(bytes(range(256)) * 20_000)  # 5 MB: several blocks
    small.write_bytes(b"DICM")
    body = MultipartBody(
        [BodyPart.from_file(big, "application/dicom"), BodyPart.from_bytes(b"{}", "application/dicom+json"),
         BodyPart.from_file(small, "application/dicom")],
        part_type="application/dicom",
        block_size=65536,
    )  # fmt: skip
    used = []
    real = FileRegion.send_to
    monkeypatch.setattr(FileRegion, "send_to", lambda region, sock: used.append(region) or real(region, sock))
    with requests.Session() as session:
        session.mount("http://", adapter)
        session.post(server, data=body, headers={"Content-Type": body.content_type}).raise_for_status()
    assert Recorder.received == [b"".join(bytes(c) for c in body.iter_bytes())]
    assert len(used) == (2 if isinstance(adapter, SendfileAdapter) else 0)

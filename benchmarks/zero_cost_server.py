"""A DICOMweb server that costs almost nothing: nginx on loopback, answering from prebuilt files.

- STOW-RS (``POST .../studies``): the body is read and discarded, and a canned 200 is returned. It lists no
  instance, so the hook counts every instance as "not acknowledged"; the bytes were sent all the same, and
  sending them is what this server measures.
- WADO-RS (``GET .../studies/{uid}`` and ``.../series/{uid}``): a multipart/related file built once from the
  data set, served with sendfile.
- QIDO-RS: ``GET .../instances`` serves a prebuilt JSON array (an ``offset`` gets ``[]``, so clients that
  page stop); a study's ``/series`` its series; anything else ``[]``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pydicom

BOUNDARY = "zerocostboundary4c1d"
NGINX = "/usr/sbin/nginx"

CONFIG = """
{user}
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    client_max_body_size 0;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root}/www;
        default_type application/dicom+json;
        location = /dicom-web/studies {{
            return 200 '{{"00081190": {{"vr": "UR", "Value": ["http://127.0.0.1:{port}/dicom-web/studies"]}}}}';
        }}
        location = /dicom-web/instances {{
            if ($arg_offset) {{ return 200 '[]'; }}
            try_files /instances.json =404;
        }}
        location ~ ^/dicom-web/studies/([0-9.]+)/series$ {{
            if ($arg_offset) {{ return 200 '[]'; }}
            try_files /series-of-$1.json =404;
        }}
        location ~ ^/dicom-web/studies/([0-9.]+)$ {{
            default_type 'multipart/related; type="application/dicom"; boundary={boundary}';
            try_files /study-$1.multipart =404;
        }}
        location ~ ^/dicom-web/studies/([0-9.]+)/series/([0-9.]+)$ {{
            default_type 'multipart/related; type="application/dicom"; boundary={boundary}';
            try_files /series-$2.multipart =404;
        }}
        location / {{ return 200 '[]'; }}
    }}
}}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_multipart(files: list[str], target: Path) -> None:
    with target.open("wb") as out:
        for path in files:
            out.write(f"--{BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n".encode())
            with open(path, "rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
            out.write(b"\r\n")
        out.write(f"--{BOUNDARY}--\r\n".encode())


def _element(tag: str, vr: str, value: object) -> dict:
    return {tag: {"vr": vr, "Value": [value]}}


class ZeroCostServer:
    """``with ZeroCostServer(root) as server:``; ``server.add_study(uid, series)`` publishes a study's files."""

    def __init__(self, root: Path) -> None:
        if not Path(NGINX).exists():
            raise RuntimeError("nginx is not installed: apt-get install nginx-light (scripts/bench.sh does)")
        self.root = root
        (root / "www").mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/dicom-web"
        self.process: subprocess.Popen | None = None

    def add_study(self, study: str, series: dict[str, list[str]]) -> None:
        """Publish a study (its series' files) for WADO-RS, and its series for QIDO-RS."""
        www = self.root / "www"
        for uid, files in series.items():
            write_multipart(files, www / f"series-{uid}.multipart")
        write_multipart([f for files in series.values() for f in files], www / f"study-{study}.multipart")
        listing = [
            {
                **_element("0020000D", "UI", study),
                **_element("0020000E", "UI", uid),
                **_element("00201209", "IS", len(f)),
            }
            for uid, f in series.items()
        ]
        (www / f"series-of-{study}.json").write_text(json.dumps(listing))

    def set_search_results(self, count: int) -> None:
        """``count`` made-up instance results for ``/instances``, shaped as a server lists them."""
        from pydicom.uid import generate_uid

        study, series = generate_uid(), generate_uid()
        results = [
            {
                **_element("00080016", "UI", "1.2.840.10008.5.1.4.1.1.2"),
                **_element("00080018", "UI", f"{series}.{n}"),
                **_element("0020000D", "UI", study),
                **_element("0020000E", "UI", series),
                **_element("00200013", "IS", n),
                **_element("00080060", "CS", "CT"),
                **_element("00100020", "LO", "PID-0001"),
                "00100010": {"vr": "PN", "Value": [{"Alphabetic": "TEST^PATIENT"}]},
            }
            for n in range(1, count + 1)
        ]
        (self.root / "www" / "instances.json").write_text(json.dumps(results))

    def set_instances(self, files: list[str]) -> None:
        """The QIDO-RS answer for ``/instances``: one result per file, as a server would list them."""
        results = []
        for path in files:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
            results.append(
                {
                    **_element("00080016", "UI", str(ds.SOPClassUID)),
                    **_element("00080018", "UI", str(ds.SOPInstanceUID)),
                    **_element("0020000D", "UI", str(ds.StudyInstanceUID)),
                    **_element("0020000E", "UI", str(ds.SeriesInstanceUID)),
                    **_element("00200013", "IS", int(ds.InstanceNumber)),
                    **_element("00080060", "CS", str(ds.Modality)),
                    **_element("00100020", "LO", str(ds.PatientID)),
                    "00100010": {"vr": "PN", "Value": [{"Alphabetic": str(ds.PatientName)}]},
                }
            )
        (self.root / "www" / "instances.json").write_text(json.dumps(results))

    def __enter__(self) -> ZeroCostServer:
        config = self.root / "nginx.conf"
        # as root, nginx's worker would switch to nobody, who cannot read a private temporary folder
        user = "user root;" if os.geteuid() == 0 else ""
        config.write_text(CONFIG.format(user=user, root=self.root, port=self.port, boundary=BOUNDARY))
        self.process = subprocess.Popen(
            [NGINX, "-c", str(config), "-p", str(self.root)], stderr=subprocess.PIPE, start_new_session=True
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(
                        f"nginx exited: {self.process.stderr.read().decode()[-2000:]}"
                    ) from None
                time.sleep(0.05)
        raise RuntimeError("nginx did not start")

    def __exit__(self, *exc: object) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

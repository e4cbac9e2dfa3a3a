"""Connections that send a request body's files with the kernel's ``sendfile``: a
:class:`~airflow_dicomweb.core.multipart.writer.FileRegion` in the body is handed to the socket, so on a
plain TCP connection no byte of the file passes through this process (a STOW-RS of a folder costs the
client a tenth of the CPU). Everything else is sent as urllib3 sends it; a connection these classes do not
make (through a proxy) iterates the region and sends its blocks."""

from __future__ import annotations

import socket
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from airflow_dicomweb.core.multipart.writer import FileRegion


class SendfileHTTPConnection(HTTPConnection):
    def send(self, data: Any) -> None:
        if isinstance(data, FileRegion) and isinstance(self.sock, socket.socket):
            data.send_to(self.sock)
            return
        super().send(data)


class SendfileHTTPSConnection(HTTPSConnection):
    def send(self, data: Any) -> None:
        if isinstance(data, FileRegion) and isinstance(self.sock, socket.socket):
            data.send_to(self.sock)  # blocks: TLS is encrypted here, not by the kernel
            return
        super().send(data)


class SendfileHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = SendfileHTTPConnection


class SendfileHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = SendfileHTTPSConnection


class SendfileAdapter(HTTPAdapter):
    """requests' adapter, its pools making the connections above."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": SendfileHTTPConnectionPool,
            "https": SendfileHTTPSConnectionPool,
        }

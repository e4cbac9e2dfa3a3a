"""A loopback front of the real Orthanc: each request is first shown to a ``gate`` (which may answer it
itself, as a server with other rules would), else forwarded to Orthanc's DICOMweb root, with Orthanc's URLs
in the answer rewritten to the front's. Emulators of other servers' contracts keep their data in Orthanc
this way."""

from __future__ import annotations

from collections.abc import Callable

import requests

from tests.fakes.fake_server import FakeServer, Request

Answer = tuple[int, dict[str, str], bytes]


class OrthancFront(FakeServer):
    def __init__(self, orthanc, gate: Callable[[Request], Answer | None], prefix: str = "/dicomweb") -> None:
        self.orthanc = orthanc
        self.prefix = prefix
        self._session = requests.Session()
        self._session.auth = (orthanc.username, orthanc.password)
        super().__init__(lambda request: gate(request) or self._forward(request))

    @property
    def dicomweb_url(self) -> str:
        return self.url + self.prefix

    def _forward(self, request: Request) -> Answer:
        url = self.orthanc.dicomweb_url + request.path.removeprefix(self.prefix)
        answer = self._session.request(
            request.method,
            url + (f"?{request.query}" if request.query else ""),
            # A fresh connection for each request: Orthanc closes an idle kept-alive connection, and a request
            # sent on one it has just closed fails with no answer, which the front would pass on to its
            # client as a dropped connection (and the client would send the same body again).
            headers={
                **{k: v for k, v in request.headers.items() if k.lower() in ("accept", "content-type")},
                "Connection": "close",
            },
            data=request.body or None,
            timeout=60,
        )
        body = answer.content.replace(self.orthanc.dicomweb_url.encode(), self.dicomweb_url.encode())
        return answer.status_code, {"Content-Type": answer.headers.get("Content-Type", "")}, body

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        self._session.close()

"""AWS HealthImaging's documented DICOMweb contract on loopback: every request must carry a valid SigV4
signature for the service ``medical-imaging``, which the emulator recomputes with botocore from the request
as received (its signed headers, its path and query, and the SHA-256 of the body it received), so a wrong
canonical request, key, region or body fails with 403; and whole-study and whole-series retrieves are not
served. Its data lives in the real Orthanc. A test double, not AWS."""

from __future__ import annotations

import hashlib
import hmac
import re

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.emulators.orthanc_front import OrthancFront

ACCESS_KEY = "AKIAEMULATOR000000001"
SECRET_KEY = "emulator/secret/key/9f8e7d6c5b4a39281706f5e4d3c2b1a0"
SESSION_TOKEN = "FwoGZXIvYXdzEmulatorSessionToken+/=="
REGION = "us-east-1"
DATASTORE = "1b2c3d4e5f60718293a4b5c6d7e8f901"
_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/"
    r"aws4_request, SignedHeaders=(?P<signed>[a-z0-9;-]+), Signature=(?P<signature>[0-9a-f]{64})$"
)
_WHOLE = re.compile(r"/studies/[0-9.]+(/series/[0-9.]+)?$")


class HealthImagingEmulator(OrthancFront):
    def __init__(self, orthanc) -> None:
        self.verified = 0
        self.refused: list[str] = []
        super().__init__(orthanc, self._gate, prefix=f"/datastore/{DATASTORE}")

    def _gate(self, request):
        why = self._refusal(request)
        if why:
            self.refused.append(why)
            return 403, {"Content-Type": "application/json"}, b'{"message": "SignatureDoesNotMatch"}'
        self.verified += 1
        if request.method == "GET" and _WHOLE.search(request.path):
            return 400, {"Content-Type": "application/json"}, b'{"message": "not supported"}'
        return None

    def _refusal(self, request) -> str:
        found = _AUTH.match(request.headers.get("Authorization", ""))
        if not found:
            return "no SigV4 Authorization"
        if (found["key"], found["region"], found["service"]) != (ACCESS_KEY, REGION, "medical-imaging"):
            return "wrong key, region or service"
        if request.headers.get("X-Amz-Security-Token") != SESSION_TOKEN:
            return "no session token"
        if hashlib.sha256(request.body).hexdigest() != request.headers.get("X-Amz-Content-SHA256"):
            return "the body is not the one signed"
        signed = found["signed"].split(";")
        headers = {k: v for k, v in request.headers.items() if k.lower() in signed}
        url = f"http://{request.headers['Host']}{request.path}" + (
            f"?{request.query}" if request.query else ""
        )
        received = AWSRequest(method=request.method, url=url, headers=headers)
        received.context["timestamp"] = request.headers.get("X-Amz-Date", "")
        signer = SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY, SESSION_TOKEN), "medical-imaging", REGION)
        if signer.signed_headers(signer.headers_to_sign(received)) != found["signed"]:
            return "signed headers differ"
        expected = signer.signature(
            signer.string_to_sign(received, signer.canonical_request(received)), received
        )
        return "" if hmac.compare_digest(expected, found["signature"]) else "signature mismatch"

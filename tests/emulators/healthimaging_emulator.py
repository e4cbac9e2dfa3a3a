"""AWS HealthImaging's documented DICOMweb contract on loopback: every request must carry a valid SigV4
signature for the service ``medical-imaging``, which the emulator recomputes with botocore from the request
as received (its signed headers, its path and query, and the SHA-256 of the body it received), so a wrong
canonical request, key, region or body fails with 403; and whole-study and whole-series retrieves are not
served. Its data lives in the real Orthanc.

Image sets and their events: each study stored is an image set (an id of 32 hex digits); with
``event_sink`` set (a callable taking the event's JSON, an SQS ``send_message`` in the tests), each STOW-RS
request that stores instances sends the EventBridge event ``Image Set Created`` (the first time) or
``Image Set Updated`` (``source`` ``aws.medical-imaging``, ``time``, ``detail`` with ``datastoreId``,
``imagesetId``, ``imageSetState``, ``imageSetWorkflowStatus``), as an EventBridge rule with an SQS target
delivers it; ``POST /datastore/{id}/imageSet/{id}/getImageSetMetadata`` (the runtime API, signed as the rest)
answers the gzip JSON document whose ``Study.DICOM.StudyInstanceUID`` names the study.

A test double, not AWS."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import hmac
import json
import re
import secrets

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
_METADATA = re.compile(
    rf"^/datastore/{DATASTORE}/imageSet/(?P<image_set>[0-9a-f]{{32}})/getImageSetMetadata$"
)
_WHOLE = re.compile(r"/studies/[0-9.]+(/series/[0-9.]+)?$")


class HealthImagingEmulator(OrthancFront):
    def __init__(self, orthanc) -> None:
        self.event_sink = None  # a callable taking an EventBridge event's JSON
        self.image_sets: dict[str, str] = {}  # study UID -> image set id
        self.verified = 0
        self.refused: list[str] = []
        super().__init__(orthanc, self._gate, prefix=f"/datastore/{DATASTORE}")

    def _gate(self, request):
        why = self._refusal(request)
        if why:
            self.refused.append(why)
            return 403, {"Content-Type": "application/json"}, b'{"message": "SignatureDoesNotMatch"}'
        self.verified += 1
        found = _METADATA.match(request.path)
        if found:
            return self._image_set_metadata(found["image_set"])
        if request.method == "POST" and request.path.rstrip("/").endswith("/studies") and self.event_sink:
            return self._store_and_tell(request)
        if request.method == "GET" and _WHOLE.search(request.path):
            return 400, {"Content-Type": "application/json"}, b'{"message": "not supported"}'
        return None

    def _store_and_tell(self, request):
        status, headers, body = self._forward(request)
        try:
            stored = json.loads(body).get("00081199", {}).get("Value", [])
        except ValueError:
            stored = []
        studies = {
            m.group(1)
            for item in stored
            for m in [re.search(r"/studies/([0-9.]+)/", str(item.get("00081190", {}).get("Value", [""])[0]))]
            if m
        }
        for study in sorted(studies):
            created = study not in self.image_sets
            image_set = self.image_sets.setdefault(study, secrets.token_hex(16))
            self.event_sink(
                json.dumps(
                    {
                        "version": "0",
                        "id": secrets.token_hex(16),
                        "detail-type": "Image Set Created" if created else "Image Set Updated",
                        "source": "aws.medical-imaging",
                        "account": "111122223333",
                        "time": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "region": REGION,
                        "resources": [
                            f"arn:aws:medical-imaging:{REGION}:111122223333:datastore/{DATASTORE}/imageset/{image_set}"
                        ],
                        "detail": {
                            "imagingVersion": "1.0",
                            "datastoreId": DATASTORE,
                            "imagesetId": image_set,
                            "imageSetState": "ACTIVE",
                            "imageSetWorkflowStatus": "CREATED" if created else "UPDATED",
                        },
                    }
                )
            )
        return status, headers, body

    def _image_set_metadata(self, image_set: str):
        study = next((s for s, i in self.image_sets.items() if i == image_set), None)
        if study is None:
            return (
                404,
                {"Content-Type": "application/json", "x-amzn-ErrorType": "ResourceNotFoundException"},
                (b'{"message": "image set not found"}'),
            )
        document = {
            "SchemaVersion": "1.1",
            "DatastoreID": DATASTORE,
            "ImageSetID": image_set,
            "Study": {"DICOM": {"StudyInstanceUID": study}, "Series": {}},
        }
        return (
            200,
            {"Content-Type": "application/json", "Content-Encoding": "gzip"},
            gzip.compress(json.dumps(document).encode()),
        )

    def _refusal(self, request) -> str:
        found = _AUTH.match(request.headers.get("Authorization", ""))
        if not found:
            return "no SigV4 Authorization"
        if (found["key"], found["region"], found["service"]) != (ACCESS_KEY, REGION, "medical-imaging"):
            return "wrong key, region or service"
        if request.headers.get("X-Amz-Security-Token") != SESSION_TOKEN:
            return "no session token"
        declared = request.headers.get("X-Amz-Content-SHA256")  # botocore sends it for S3 only
        if declared is not None and hashlib.sha256(request.body).hexdigest() != declared:
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

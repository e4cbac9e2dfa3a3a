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

The import-job API (the control plane, signed for ``medical-imaging`` as the rest):
``POST /startDICOMImportJob/datastore/{id}`` (``jobName``, ``dataAccessRoleArn``, ``clientToken``,
``inputS3Uri``, ``outputS3Uri``) answers ``{"datastoreId", "jobId", "jobStatus": "SUBMITTED",
"submittedAt"}``; the same ``clientToken`` answers the job it started before, as the service's idempotency
token does. ``GET /getDICOMImportJob/datastore/{id}/job/{jobId}`` answers ``{"jobProperties": ...}`` with
``jobStatus`` ``SUBMITTED``, ``IN_PROGRESS``, then ``COMPLETED`` (or ``FAILED`` with a ``message`` when the
input cannot be listed). The job reads the objects under ``inputS3Uri`` from S3 (``import_s3``, a boto3
client of moto's S3), stores each Part 10 file in Orthanc, and writes under
``<outputS3Uri><datastore>-DicomImport-<jobId>/`` (the ``outputS3Uri`` the job's properties give)
``job-output-manifest.json`` (``jobSummary`` with the counts and ``successOutputS3Uri`` /
``failureOutputS3Uri``), ``SUCCESS/success.ndjson`` and ``FAILURE/failure.ndjson`` (one line per file:
``inputFile`` and ``importResponse`` or ``exception``). A file that is not DICOM is a failure
(``ValidationException``); the job is still ``COMPLETED``, as the service's is.

A test double, not AWS."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import hmac
import io
import json
import re
import secrets
import threading
import time

import pydicom
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
_START_IMPORT = re.compile(r"^/startDICOMImportJob/datastore/(?P<datastore>[^/]+)$")
_GET_IMPORT = re.compile(r"^/getDICOMImportJob/datastore/(?P<datastore>[^/]+)/job/(?P<job>[^/]+)$")


class HealthImagingEmulator(OrthancFront):
    def __init__(self, orthanc) -> None:
        self.event_sink = None  # a callable taking an EventBridge event's JSON
        self.image_sets: dict[str, str] = {}  # study UID -> image set id
        self.verified = 0
        self.refused: list[str] = []
        self.import_s3 = None  # a boto3 S3 client (moto's) the import jobs read and write through
        self.import_delay = 0.0  # seconds per file, so that a poll sees a job in progress
        self.import_jobs: dict[str, dict] = {}  # job id -> its properties
        self.import_calls: list[dict] = []  # every StartDICOMImportJob request, as received
        self._tokens: dict[str, str] = {}  # clientToken -> job id
        super().__init__(orthanc, self._gate, prefix=f"/datastore/{DATASTORE}")

    def _gate(self, request):
        why = self._refusal(request)
        if why:
            self.refused.append(why)
            return 403, {"Content-Type": "application/json"}, b'{"message": "SignatureDoesNotMatch"}'
        self.verified += 1
        started = _START_IMPORT.match(request.path)
        if started and request.method == "POST":
            return self._start_import(started["datastore"], request)
        asked = _GET_IMPORT.match(request.path)
        if asked and request.method == "GET":
            return self._import_job(asked["datastore"], asked["job"])
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

    # --- the import-job API --------------------------------------------------------------------------

    @staticmethod
    def _aws_error(status: int, kind: str, message: str):
        return (
            status,
            {"Content-Type": "application/json", "x-amzn-ErrorType": kind},
            json.dumps({"message": message}).encode(),
        )

    def _start_import(self, datastore: str, request):
        if datastore != DATASTORE:
            return self._aws_error(404, "ResourceNotFoundException", f"datastore {datastore} not found")
        try:
            body = json.loads(request.body or b"{}")
            for name in ("jobName", "dataAccessRoleArn", "clientToken", "inputS3Uri", "outputS3Uri"):
                assert isinstance(body.get(name), str) and body[name]
        except (ValueError, AssertionError):
            return self._aws_error(
                400,
                "ValidationException",
                "jobName, dataAccessRoleArn, clientToken, inputS3Uri and outputS3Uri are required",
            )
        self.import_calls.append(body)
        job_id = self._tokens.get(body["clientToken"])
        if job_id is None:
            job_id = secrets.token_hex(16)
            self._tokens[body["clientToken"]] = job_id
            output = body["outputS3Uri"].rstrip("/") + f"/{DATASTORE}-DicomImport-{job_id}/"
            self.import_jobs[job_id] = {
                "jobId": job_id,
                "jobName": body["jobName"],
                "jobStatus": "SUBMITTED",
                "datastoreId": DATASTORE,
                "dataAccessRoleArn": body["dataAccessRoleArn"],
                "submittedAt": time.time(),
                "inputS3Uri": body["inputS3Uri"],
                "outputS3Uri": output,
            }
            threading.Thread(target=self._run_import, args=(job_id,), daemon=True).start()
        job = self.import_jobs[job_id]
        answer = {
            "datastoreId": DATASTORE,
            "jobId": job_id,
            "jobStatus": job["jobStatus"],
            "submittedAt": job["submittedAt"],
        }
        return 200, {"Content-Type": "application/json"}, json.dumps(answer).encode()

    def _import_job(self, datastore: str, job_id: str):
        job = self.import_jobs.get(job_id)
        if datastore != DATASTORE or job is None:
            return self._aws_error(404, "ResourceNotFoundException", f"job {job_id} not found")
        return 200, {"Content-Type": "application/json"}, json.dumps({"jobProperties": job}).encode()

    @staticmethod
    def _split(uri: str) -> tuple[str, str]:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        return bucket, key

    def _run_import(self, job_id: str) -> None:
        job = self.import_jobs[job_id]
        s3 = self.import_s3
        bucket, prefix = self._split(job["inputS3Uri"])
        try:
            keys = [
                item["Key"]
                for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
                for item in page.get("Contents", [])
            ]
        except Exception as exc:
            job.update(
                jobStatus="FAILED", endedAt=time.time(), message=f"cannot list {job['inputS3Uri']}: {exc}"
            )
            return
        job["jobStatus"] = "IN_PROGRESS"
        successes, failures = [], []
        for key in sorted(keys):
            time.sleep(self.import_delay)
            data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            source = f"s3://{bucket}/{key}"
            try:
                dataset = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
                study = str(dataset.StudyInstanceUID)
                stored = self.orthanc.rest("POST", "/instances", data=data)
                stored.raise_for_status()
            except Exception as exc:
                failures.append(
                    {
                        "inputFile": source,
                        "exception": {
                            "exceptionType": "ValidationException",
                            "message": f"not a DICOM P10 file: {str(exc)[:100]}",
                        },
                    }
                )
                continue
            image_set = self.image_sets.setdefault(study, secrets.token_hex(16))
            successes.append(
                {"inputFile": source, "importResponse": {"imageSetId": image_set, "isPrimary": True}}
            )
        out_bucket, out_prefix = self._split(job["outputS3Uri"])
        summary = {
            "jobId": job_id,
            "datastoreId": DATASTORE,
            "inputS3Uri": job["inputS3Uri"],
            "outputS3Uri": job["outputS3Uri"],
            "successOutputS3Uri": job["outputS3Uri"] + "SUCCESS/",
            "failureOutputS3Uri": job["outputS3Uri"] + "FAILURE/",
            "numberOfScannedFiles": len(keys),
            "numberOfImportedFiles": len(successes),
            "numberOfFilesWithCustomerError": len(failures),
            "numberOfFilesWithServerError": 0,
            "numberOfGeneratedImageSets": len({s["importResponse"]["imageSetId"] for s in successes}),
        }
        for name, body in (
            ("job-output-manifest.json", json.dumps({"jobSummary": summary})),
            ("SUCCESS/success.ndjson", "\n".join(json.dumps(line) for line in successes)),
            ("FAILURE/failure.ndjson", "\n".join(json.dumps(line) for line in failures)),
        ):
            s3.put_object(Bucket=out_bucket, Key=out_prefix + name, Body=body.encode())
        job.update(jobStatus="COMPLETED", endedAt=time.time())

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
        received = AWSRequest(method=request.method, url=url, headers=headers, data=request.body or b"")
        received.context["timestamp"] = request.headers.get("X-Amz-Date", "")
        signer = SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY, SESSION_TOKEN), "medical-imaging", REGION)
        if signer.signed_headers(signer.headers_to_sign(received)) != found["signed"]:
            return "signed headers differ"
        expected = signer.signature(
            signer.string_to_sign(received, signer.canonical_request(received)), received
        )
        return "" if hmac.compare_digest(expected, found["signature"]) else "signature mismatch"

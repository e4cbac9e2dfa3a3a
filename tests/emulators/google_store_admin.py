"""The Google emulator's DICOM store beyond DICOMweb, following the Cloud Healthcare API's REST reference
(v1): ``dicomStores.import``, ``.export``, ``.deidentify``, ``.setBlobStorageSettings`` (store, study,
series) and ``.getDICOMStoreMetrics``, ``studies.getStudyMetrics``, ``series.getSeriesMetrics``.

- Cloud Storage is a local folder per bucket (``bucket_root/<bucket>``): an import really reads the Part 10
  files matching its ``gcsSource.uri`` (``*`` within a folder, ``**`` across folders) and stores each in the
  real Orthanc; a file that is not DICOM counts as a failure and is named in the operation's log. An
  export to ``gs://`` writes ``<prefix>/<study>/<series>/<instance>.dcm``.
- BigQuery is a folder of JSON-lines tables (``bigquery_root/<project>.<dataset>.<table>.jsonl``), one
  row per instance, honouring ``writeDisposition`` (``WRITE_EMPTY`` by default: a table with rows fails).
- De-identification writes into a new store backed by a second real Orthanc: identifying attributes
  removed (those of ``REMOVED``, unless in ``config.dicom.keepList`` or under ``KEEP_ALL_PROFILE``, plus
  ``config.dicom.removeList``), UIDs replaced by ``2.25.`` UIDs derived from them unless
  ``skipIdRedaction``. The destination must not exist (409). A simplification of Google's profiles, enough
  to tell that the configuration was passed and applied.
- Every request is checked as the reference says: an unknown field, a storage class or write disposition
  not in its enum, a missing source: 400 ``INVALID_ARGUMENT``; a bucket in ``denied_buckets``: 403
  ``PERMISSION_DENIED``; an unknown store, study or series: 404.
- Operations run in a thread and finish with ``metadata.counter`` (int64 as strings) and ``logsUrl``; any
  failed instance gives the operation an ``error`` beside its counts.

A test double of the documented contract, not Google.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import threading
import time
from pathlib import Path
from typing import Any

import pydicom

from tests.emulators.google_emulator import Operation, google_error

ADMIN_RE = re.compile(
    r"^/v1/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/datasets/(?P<dataset>[^/]+)"
    r"/dicomStores/(?P<store>[^/:]+)(?P<rest>(/dicomWeb/studies/[0-9.]+(/series/[0-9.]+)?)?)"
    r":(?P<method>import|export|deidentify|setBlobStorageSettings|getDICOMStoreMetrics|getStudyMetrics"
    r"|getSeriesMetrics)$"
)
STORAGE_CLASSES = ("STANDARD", "NEARLINE", "COLDLINE", "ARCHIVE")
PROFILES = (
    "MINIMAL_KEEP_LIST_PROFILE",
    "ATTRIBUTE_CONFIDENTIALITY_BASIC_PROFILE",
    "KEEP_ALL_PROFILE",
    "DEIDENTIFY_TAG_CONTENTS",
)
REMOVED = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientAddress",
    "InstitutionName",
    "ReferringPhysicianName",
    "AccessionNumber",
    "OtherPatientIDs",
    "PatientTelephoneNumbers",
)
LOGS_URL = "https://console.cloud.google.com/logs/query;query=resource.type%3D%22healthcare_dicom_store%22"


def _error(status: int, message: str, kind: str):
    return status, {"Content-Type": "application/json"}, google_error(status, message, kind)


def _bad(message: str):
    return _error(400, message, "INVALID_ARGUMENT")


def derived_uid(uid: str) -> str:
    return "2.25." + str(int.from_bytes(hashlib.sha256(uid.encode()).digest()[:16], "big"))


class StoreAdmin:
    def __init__(self, emulator, bucket_root: Path, bigquery_root: Path, spare_orthanc=None) -> None:
        self.emulator = emulator
        self.bucket_root = bucket_root
        self.bigquery_root = bigquery_root
        self.spare_orthanc = spare_orthanc
        self.denied_buckets: set[str] = set()
        self.created_stores: dict[str, Any] = {}  # store id -> the emulator of that store
        self.bodies: list[tuple[str, dict]] = []
        self.instance_delay = 0.02  # so that a poll sees an operation run

    # --- dispatch ---------------------------------------------------------------------------------

    def handle(self, method: str, path: str, body: bytes):
        found = ADMIN_RE.match(path)
        if not found:
            return None
        emulator = self.emulator
        if (found["project"], found["location"], found["dataset"]) != (
            emulator.project,
            emulator.location,
            emulator.dataset,
        ) or found["store"] != emulator.dicom_store:
            return _error(404, f"DICOM store {found['store']} not found", "NOT_FOUND")
        verb = found["method"]
        if verb.startswith("get"):
            if method != "GET":
                return _error(405, "method not allowed", "INVALID_ARGUMENT")
            return self._metrics(verb, found["rest"])
        if method != "POST":
            return _error(405, "method not allowed", "INVALID_ARGUMENT")
        try:
            request = json.loads(body or b"{}")
            assert isinstance(request, dict)
        except (ValueError, AssertionError):
            return _bad("Invalid JSON payload received.")
        self.bodies.append((verb, request))
        if found["rest"] and verb != "setBlobStorageSettings":
            return _error(404, f"{verb} is a method of the store", "NOT_FOUND")
        return getattr(self, f"_{verb.lower()}")(request, found["rest"])

    # --- helpers --------------------------------------------------------------------------------------

    def _unknown_fields(self, request: dict, allowed: set[str]):
        unknown = set(request) - allowed
        return (
            _bad(f'Invalid JSON payload received. Unknown name "{sorted(unknown)[0]}"') if unknown else None
        )

    def _bucket_path(self, uri: str):
        """(bucket folder, the rest) of a gs:// URI, or an error answer."""
        found = re.match(r"^gs://([a-z0-9][a-z0-9._-]+[a-z0-9])(?:/(.*))?$", uri or "")
        if not found:
            return None, "", _bad(f"invalid Cloud Storage URI {uri!r}")
        if found[1] in self.denied_buckets:
            return (
                None,
                "",
                _error(
                    403,
                    f"the Cloud Healthcare Service Agent has no access to gs://{found[1]}",
                    "PERMISSION_DENIED",
                ),
            )
        return self.bucket_root / found[1], found[2] or "", None

    def _orthanc_instances(self, orthanc=None) -> list[str]:
        _status, _, data = self._rest(orthanc, "GET", "/instances")
        return json.loads(data or b"[]")

    def _rest(self, orthanc, method, path, body=None):
        if orthanc is None:
            return self.emulator._orthanc(method, path, body=body)
        response = orthanc.rest(method, path, data=body)
        return response.status_code, {}, response.content

    def _filtered(self, request: dict) -> tuple[list[str] | None, Any]:
        """The Orthanc instance ids a request covers: all, or those under its filterConfig's paths."""
        uri = (request.get("filterConfig") or {}).get("resourcePathsGcsUri")
        ids = self._orthanc_instances()
        if not uri:
            return ids, None
        folder, name, error = self._bucket_path(uri)
        if error:
            return None, error
        try:
            lines = [ln.strip() for ln in (folder / name).read_text().splitlines() if ln.strip()]
        except OSError:
            return None, _error(404, f"filter file {uri} not found", "NOT_FOUND")
        wanted = []
        for instance in ids:
            tags = json.loads(self._rest(None, "GET", f"/instances/{instance}/simplified-tags")[2])
            path = f"/studies/{tags['StudyInstanceUID']}/series/{tags['SeriesInstanceUID']}/instances/{tags['SOPInstanceUID']}"
            if any(path == ln or path.startswith(ln.rstrip("/") + "/") for ln in lines):
                wanted.append(instance)
        return wanted, None

    def _operation(self, method: str, work) -> tuple[int, dict, bytes]:
        """Start ``work(operation)`` in a thread; answer with the operation, as Google does."""
        emulator = self.emulator
        name = f"{emulator.dataset_path}/operations/{next(emulator._ids)}{int(time.time() * 1000) % 10**9}"
        operation = Operation(
            name=name,
            method=f"google.cloud.healthcare.v1.dicom.DicomService.{method}",
            created=time.time(),
            counter={},
        )
        with emulator._lock:
            emulator.operations[name] = operation

        def run():
            success, failure, errors = 0, 0, []
            try:
                for ok, what in work():
                    time.sleep(self.instance_delay)
                    if ok:
                        success += 1
                    else:
                        failure += 1
                        errors.append(what)
                    operation.counter = {"success": str(success), "failure": str(failure)}
            except RuntimeError as stop:  # the whole operation failed
                operation.error = {"code": 9, "message": str(stop)}
            if failure and operation.error is None:
                operation.error = {
                    "code": 2,
                    "message": f"{failure} of {success + failure} instances failed; see the logs: {errors[0]}",
                }
            operation.counter = {"success": str(success), "failure": str(failure)}
            operation.done = True

        threading.Thread(target=run, daemon=True).start()
        return 200, {"Content-Type": "application/json"}, json.dumps({"name": name}).encode()

    # --- import -----------------------------------------------------------------------------------

    def _import(self, request: dict, _rest: str):
        refused = self._unknown_fields(request, {"gcsSource", "blobStorageSettings"})
        if refused:
            return refused
        uri = (request.get("gcsSource") or {}).get("uri")
        if not uri:
            return _bad("gcsSource.uri is required")
        storage = (request.get("blobStorageSettings") or {}).get("blobStorageClass")
        if storage is not None and storage not in STORAGE_CLASSES:
            return _bad(f"Invalid value at 'blob_storage_settings.blob_storage_class' ({storage})")
        folder, pattern, error = self._bucket_path(uri)
        if error:
            return error
        regex = re.compile(
            "^" + re.escape(pattern).replace(r"\*\*", ".*").replace(r"\*", "[^/]*").replace(r"\?", ".") + "$"
        )

        def work():
            if not folder.is_dir():
                raise RuntimeError(f"bucket gs://{folder.name} not found")
            for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                relative = path.relative_to(folder).as_posix()
                if not regex.match(relative):
                    continue
                data = path.read_bytes()
                try:
                    dataset = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
                    sop = str(dataset.SOPInstanceUID)
                except Exception:
                    yield False, f"gs://{folder.name}/{relative}: not a DICOM file"
                    continue
                status, _, _ = self._rest(None, "POST", "/instances", data)
                if status == 200 and storage:
                    self.emulator.storage_classes[sop] = storage
                yield status == 200, f"gs://{folder.name}/{relative}: Orthanc answered {status}"

        return self._operation("ImportDicomData", work)

    # --- export ---------------------------------------------------------------------------------

    def _export(self, request: dict, _rest: str):
        refused = self._unknown_fields(request, {"gcsDestination", "bigqueryDestination", "filterConfig"})
        if refused:
            return refused
        gcs, bq = request.get("gcsDestination"), request.get("bigqueryDestination")
        if bool(gcs) == bool(bq):
            return _bad("exactly one of gcsDestination and bigqueryDestination is required")
        ids, error = self._filtered(request)
        if error:
            return error
        if gcs:
            folder, prefix, error = self._bucket_path(gcs.get("uriPrefix", ""))
            if error:
                return error

            def work():
                for instance in ids:
                    tags = json.loads(self._rest(None, "GET", f"/instances/{instance}/simplified-tags")[2])
                    target = folder / prefix / tags["StudyInstanceUID"] / tags["SeriesInstanceUID"]
                    target.mkdir(parents=True, exist_ok=True)
                    data = self._rest(None, "GET", f"/instances/{instance}/file")[2]
                    (target / f"{tags['SOPInstanceUID']}.dcm").write_bytes(data)
                    yield True, ""

            return self._operation("ExportDicomData", work)
        table_uri = bq.get("tableUri", "")
        found = re.match(r"^bq://([^.]+)\.([^.]+)\.([^.]+)$", table_uri)
        disposition = bq.get("writeDisposition", "WRITE_EMPTY")
        if not found or disposition not in ("WRITE_EMPTY", "WRITE_TRUNCATE", "WRITE_APPEND"):
            return _bad(f"invalid bigqueryDestination {bq!r}")
        table = self.bigquery_root / f"{found[1]}.{found[2]}.{found[3]}.jsonl"

        def work():
            self.bigquery_root.mkdir(parents=True, exist_ok=True)
            if disposition == "WRITE_EMPTY" and table.exists() and table.stat().st_size:
                raise RuntimeError(f"table {table_uri} is not empty and writeDisposition is WRITE_EMPTY")
            mode = "a" if disposition == "WRITE_APPEND" else "w"
            with table.open(mode) as out:
                for instance in ids:
                    tags = json.loads(self._rest(None, "GET", f"/instances/{instance}/simplified-tags")[2])
                    out.write(json.dumps(tags) + "\n")
                    yield True, ""

        return self._operation("ExportDicomData", work)

    # --- de-identify ------------------------------------------------------------------------------

    def _deidentify(self, request: dict, _rest: str):
        refused = self._unknown_fields(request, {"destinationStore", "config", "filterConfig"})
        if refused:
            return refused
        destination = str(request.get("destinationStore") or "")
        found = re.match(
            r"^projects/([^/]+)/locations/([^/]+)/datasets/([^/]+)/dicomStores/([A-Za-z0-9_.-]+)$",
            destination,
        )
        if not found:
            return _bad(f"invalid destinationStore {destination!r}")
        if found[2] != self.emulator.location:
            return _bad("the destination store must be in the source's location")
        if found[4] in self.created_stores or found[4] == self.emulator.dicom_store:
            return _error(409, f"DICOM store {found[4]} already exists", "ALREADY_EXISTS")
        config = request.get("config")
        if not isinstance(config, dict) or set(config) - {
            "dicom",
            "image",
            "text",
            "useRegionalDataProcessing",
        }:
            return _bad("invalid DeidentifyConfig")
        dicom = config.get("dicom") or {}
        profile = dicom.get("filterProfile")
        if profile is not None and profile not in PROFILES:
            return _bad(f"Invalid value at 'config.dicom.filter_profile' ({profile})")
        keep = set((dicom.get("keepList") or {}).get("tags") or [])
        if profile == "KEEP_ALL_PROFILE":
            keep |= set(REMOVED)
        skip_ids = bool(dicom.get("skipIdRedaction"))
        extra_removed = set((dicom.get("removeList") or {}).get("tags") or [])
        ids, error = self._filtered(request)
        if error:
            return error
        if self.spare_orthanc is None:
            return _error(500, "the emulator has no Orthanc for a new store", "INTERNAL")
        from tests.emulators.google_emulator import GoogleEmulator

        child = GoogleEmulator(
            self.spare_orthanc, project=found[1], location=found[2], dataset=found[3], dicom_store=found[4]
        )
        child.http = self.emulator.http
        self.created_stores[found[4]] = child

        def work():
            for instance in ids:
                data = self._rest(None, "GET", f"/instances/{instance}/file")[2]
                dataset = pydicom.dcmread(io.BytesIO(data))
                for keyword in (set(REMOVED) - keep) | extra_removed:
                    if keyword in dataset:
                        delattr(dataset, keyword)
                for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
                    if keyword not in keep and not skip_ids:
                        setattr(dataset, keyword, derived_uid(str(getattr(dataset, keyword))))
                dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
                out = io.BytesIO()
                dataset.save_as(out, enforce_file_format=True)
                status, _, _ = self._rest(self.spare_orthanc, "POST", "/instances", out.getvalue())
                yield status == 200, f"instance {instance}: Orthanc answered {status}"

        return self._operation("DeidentifyDicomStore", work)

    # --- storage classes ------------------------------------------------------------------------------

    def _setblobstoragesettings(self, request: dict, rest: str):
        refused = self._unknown_fields(request, {"blobStorageSettings", "filterConfig"})
        if refused:
            return refused
        storage = (request.get("blobStorageSettings") or {}).get("blobStorageClass")
        if storage not in STORAGE_CLASSES:
            return _bad(f"Invalid value at 'blob_storage_settings.blob_storage_class' ({storage})")
        if rest and request.get("filterConfig"):
            return _bad("filterConfig is only allowed on a DICOM store")
        if rest:
            uids = re.findall(r"[0-9.]+", rest)
            query = {"StudyInstanceUID": uids[0], **({"SeriesInstanceUID": uids[1]} if len(uids) > 1 else {})}
            _, _, data = self.emulator._orthanc(
                "POST", "/tools/find", body=json.dumps({"Level": "Instance", "Query": query}).encode()
            )
            ids = json.loads(data or b"[]")
            if not ids:
                return _error(404, f"{rest} not found", "NOT_FOUND")
        else:
            ids, error = self._filtered(request)
            if error:
                return error

        def work():
            for instance in ids:
                tags = json.loads(self._rest(None, "GET", f"/instances/{instance}/simplified-tags")[2])
                self.emulator.storage_classes[tags["SOPInstanceUID"]] = storage
                yield True, ""

        return self._operation("SetBlobStorageSettings", work)

    # --- metrics ----------------------------------------------------------------------------------

    def _metrics(self, verb: str, rest: str):
        def answer(body: dict):
            return (
                200,
                {"Content-Type": "application/json"},
                json.dumps({k: (str(v) if isinstance(v, int) else v) for k, v in body.items()}).encode(),
            )

        store_name = f"{self.emulator.dataset_path}/dicomStores/{self.emulator.dicom_store}"
        if verb == "getDICOMStoreMetrics" and not rest:
            stats = json.loads(self.emulator._orthanc("GET", "/statistics")[2])
            return answer(
                {
                    "name": store_name,
                    "studyCount": stats["CountStudies"],
                    "seriesCount": stats["CountSeries"],
                    "instanceCount": stats["CountInstances"],
                    "structuredStorageSizeBytes": 512
                    * stats["CountInstances"],  # a stand-in: Orthanc has no such
                    "blobStorageSizeBytes": int(stats["TotalUncompressedSize"]),
                }
            )
        uids = re.findall(r"[0-9.]+", rest or "")
        kind = {"getStudyMetrics": ("Study", 1), "getSeriesMetrics": ("Series", 2)}.get(verb)
        if kind is None or len(uids) != kind[1]:
            return _error(404, f"{verb} not found here", "NOT_FOUND")
        _, _, data = self.emulator._orthanc("POST", "/tools/lookup", body=uids[-1].encode())
        found = [i for i in json.loads(data or b"[]") if i["Type"] == kind[0]]
        if not found:
            return _error(404, f"{kind[0]} {uids[-1]} not found", "NOT_FOUND")
        level = "studies" if kind[0] == "Study" else "series"
        stats = json.loads(self.emulator._orthanc("GET", f"/{level}/{found[0]['ID']}/statistics")[2])
        body: dict = {
            "instanceCount": stats["CountInstances"],
            "structuredStorageSizeBytes": 512 * stats["CountInstances"],
            "blobStorageSizeBytes": int(stats["UncompressedSize"]),
        }
        if kind[0] == "Study":
            body = {
                "study": f"{store_name}/dicomWeb/studies/{uids[0]}",
                "seriesCount": stats["CountSeries"],
                **body,
            }
        else:
            body = {"series": f"{store_name}/dicomWeb/studies/{uids[0]}/series/{uids[1]}", **body}
        return answer(body)

"""dcm4chee-arc-light's IOCM REST API on loopback, as its source (``IocmRS``) documents it, in front of the
real Orthanc (which keeps the data), under ``/dcm4chee-arc/aets/DCM4CHEE/rs``:

- ``POST .../studies/{s}[/series/{se}[/instances/{i}]]/reject/{CodeValue}^{CodingSchemeDesignator}``:
  200 ``{"count": n}``; 404 ``{"errorMessage": ...}`` for an unknown rejection code, or when nothing is left
  to reject. Rejected instances are hidden from QIDO-RS and WADO-RS from then on, as the archive does.
- ``DELETE .../studies/{s}``: 204 once every instance of the study is rejected; 403 "Study is not empty"
  otherwise; 404 for an unknown study. No DELETE of a series or an instance (405).

dcm4chee itself cannot run here (WildFly, LDAP and a database). A test double, not dcm4chee."""

from __future__ import annotations

import json
import re
from urllib.parse import unquote

from tests.emulators.orthanc_front import OrthancFront
from tests.fakes.fake_server import Request

AET_ROOT = "/dcm4chee-arc/aets/DCM4CHEE/rs"
#: The rejection notes of dcm4chee's default configuration.
REJECTION_CODES = {"113001^DCM", "113037^DCM", "113038^DCM", "113039^DCM"}
_UID = r"[0-9.]+"
_REJECT = re.compile(rf"/studies/({_UID})(?:/series/({_UID})(?:/instances/({_UID}))?)?/reject/([^/]+)\Z")


class Dcm4cheeEmulator:
    def __init__(self, orthanc) -> None:
        self.orthanc = orthanc
        self.rejected: dict[str, str] = {}  # SOP Instance UID -> rejection code
        self.front = OrthancFront(orthanc, self._gate, prefix=AET_ROOT)

    def __enter__(self) -> Dcm4cheeEmulator:
        self.front.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.front.__exit__(*exc)

    @property
    def dicomweb_url(self) -> str:
        return self.front.dicomweb_url

    def _error(self, status: int, message: str):
        return status, {"Content-Type": "application/json"}, json.dumps({"errorMessage": message}).encode()

    def _instances(self, study: str, series: str | None = None, sop: str | None = None) -> list[dict]:
        """{id, study, series, sop} of each instance Orthanc holds under the UIDs."""
        query = {"StudyInstanceUID": study}
        if series:
            query["SeriesInstanceUID"] = series
        if sop:
            query["SOPInstanceUID"] = sop
        found = self.orthanc.rest(
            "POST", "/tools/find", json={"Level": "Instance", "Query": query, "Expand": True}
        ).json()
        return [
            {
                "id": item["ID"],
                "sop": item["MainDicomTags"]["SOPInstanceUID"],
            }
            for item in found
        ]

    def _gate(self, request: Request):
        path = unquote(request.path.removeprefix(AET_ROOT))
        reject = _REJECT.match(path)
        if request.method == "POST" and reject:
            study, series, sop, code = reject.groups()
            if code not in REJECTION_CODES:
                value, _, designator = code.partition("^")
                return self._error(404, f"Unknown Rejection Note Code: ({value}, {designator})")
            targets = [i for i in self._instances(study, series, sop) if i["sop"] not in self.rejected]
            if not targets:
                return self._error(404, f"No instances of Study[UID={study}] found for rejection.")
            for instance in targets:
                self.rejected[instance["sop"]] = code
            return 200, {"Content-Type": "application/json"}, f'{{"count":{len(targets)}}}'.encode()
        if request.method == "DELETE":
            whole_study = re.fullmatch(rf"/studies/({_UID})", path)
            if not whole_study:
                return 405, {"Content-Type": "text/plain"}, b"HTTP 405 Method Not Allowed"
            study = whole_study[1]
            instances = self._instances(study)
            if not instances:
                return self._error(404, f"Study with study instance UID {study} not found.")
            if any(i["sop"] not in self.rejected for i in instances):
                return self._error(403, f"Study is not empty. - {study}")
            for instance in instances:
                self.orthanc.rest("DELETE", f"/instances/{instance['id']}")
                self.rejected.pop(instance["sop"], None)
            return 204, {}, b""
        if request.method == "GET" and self.rejected:
            return self._hide_rejected(request, path)
        return None

    def _hide_rejected(self, request: Request, path: str):
        """Rejected instances are not there for QIDO-RS and WADO-RS."""
        uids = re.findall(_UID, path)
        if uids and uids[-1] in self.rejected:
            return self._error(404, "rejected")
        if (
            len(uids) in (1, 2)
            and not path.endswith("/metadata")
            and not re.search(r"/(instances|series)\Z", path)
        ):
            remaining = [i for i in self._instances(*uids) if i["sop"] not in self.rejected]
            if not remaining:
                return self._error(404, "rejected")
        status, headers, body = self.front._forward(request)
        if status == 200 and headers.get("Content-Type", "").startswith("application/dicom+json"):
            items = json.loads(body)
            kept = []
            for item in items:
                sop = ((item.get("00080018") or {}).get("Value") or [None])[0]
                if sop in self.rejected:
                    continue
                if sop is None:  # a study or series result: kept while it holds an unrejected instance
                    study = ((item.get("0020000D") or {}).get("Value") or [None])[0]
                    series = ((item.get("0020000E") or {}).get("Value") or [None])[0]
                    if study and not [
                        i for i in self._instances(study, series) if i["sop"] not in self.rejected
                    ]:
                        continue
                kept.append(item)
            body = json.dumps(kept).encode()
        return status, headers, body

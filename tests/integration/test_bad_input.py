"""Bad input gets a clear error naming the culprit, and everything else in the same task succeeds."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pydicom
import pytest
from pydicom.uid import generate_uid

from airflow_dicomweb.core.errors import DicomWebConfigError, InvalidUIDError
from airflow_dicomweb.hooks.dicomweb import DicomWebHook
from tests.dicom_factory import make_instance, make_series

ROOT = Path(__file__).resolve().parents[2]

STORE_AND_REPORT = """
import json, os, sys
from airflow_dicomweb.core.client import DicomWebClient
c = DicomWebClient.from_url(os.environ["URL"], login=os.environ["LOGIN"], password=os.environ["PASSWORD"])
result = c.store_instances(json.loads(os.environ["INPUTS"]))
print(json.dumps([{"path": o.path, "status": str(o.status), "reason": o.reason} for o in result.outcomes]))
"""


def store_as_unprivileged(orthanc, inputs: list[str]) -> list[dict]:
    """Store from a child process that cannot read a mode-000 file (root without capabilities)."""
    command = [sys.executable, "-c", STORE_AND_REPORT]
    if os.geteuid() == 0:  # root reads anything: drop every capability, so file modes apply
        command = ["setpriv", "--bounding-set", "-all", "--inh-caps", "-all", *command]
    env = {
        **os.environ,
        "URL": orthanc.dicomweb_url,
        "LOGIN": orthanc.username,
        "PASSWORD": orthanc.password,
        "INPUTS": json.dumps(inputs),
    }
    out = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_every_kind_of_bad_file_is_named_and_the_good_ones_are_stored(clean_orthanc, samples, tmp_path):
    good = make_series(tmp_path / "good", 3)
    bad = {}
    bad["not DICOM"] = tmp_path / "report.pdf.dcm"
    bad["not DICOM"].write_bytes(b"%PDF-1.4 not a DICOM file" * 20)
    bad["truncated"] = tmp_path / "truncated.dcm"
    bad["truncated"].write_bytes(Path(samples["ct"]).read_bytes()[:-777])
    bad["empty"] = tmp_path / "empty.dcm"
    bad["empty"].write_bytes(b"")
    bad["unreadable"] = tmp_path / "locked.dcm"
    shutil.copy(good[0], bad["unreadable"])
    ds = pydicom.dcmread(bad["unreadable"])
    ds.SOPInstanceUID = generate_uid()
    ds.save_as(bad["unreadable"])
    bad["unreadable"].chmod(0)
    bad["no SOP Instance UID"] = make_instance(
        tmp_path / "nosop.dcm", study_uid=generate_uid(), series_uid=generate_uid()
    )
    ds = pydicom.dcmread(bad["no SOP Instance UID"])
    del ds.SOPInstanceUID
    ds.save_as(bad["no SOP Instance UID"])
    missing = str(tmp_path / "missing.dcm")
    empty_glob = str(tmp_path / "nowhere" / "**" / "*.dcm")
    (tmp_path / "folder.dcm").mkdir()  # a directory with no file in it
    inputs = [*map(str, good), *map(str, bad.values()), missing, empty_glob, str(tmp_path / "folder.dcm")]

    outcomes = {o["path"]: o for o in store_as_unprivileged(clean_orthanc, inputs)}

    assert [outcomes[str(g)]["status"] for g in good] == ["stored"] * 3
    expected = {
        "not DICOM": "not a DICOM Part 10 file",
        "truncated": "truncated DICOM file",
        "empty": "empty file",
        "unreadable": "Permission denied",
        "no SOP Instance UID": "no SOPInstanceUID",
    }
    for kind, path in bad.items():
        assert outcomes[str(path)]["status"] == "failed", kind
        assert expected[kind] in outcomes[str(path)]["reason"], (kind, outcomes[str(path)]["reason"])
    assert "no such file or directory" in outcomes[missing]["reason"]
    assert "glob pattern matches no file" in outcomes[empty_glob]["reason"]
    assert "directory holds no files" in outcomes[str(tmp_path / "folder.dcm")]["reason"]
    assert clean_orthanc.count_instances() == 3


@pytest.mark.parametrize(
    "uid, why",
    [
        ("1.2.abc", "not a DICOM UID"),
        ("1.2/../..", "not a DICOM UID"),
        ("..", "not a DICOM UID"),
        ("1." * 40 + "1", "characters long"),
        ("", "is empty"),
    ],
)
def test_invalid_uids_in_arguments_are_refused_naming_the_argument(hook, tmp_path, uid, why):
    calls = [
        ("study_instance_uid", lambda: hook.retrieve_study(uid, tmp_path)),
        ("series_instance_uid", lambda: hook.retrieve_series("1.2.3", uid, tmp_path)),
        ("sop_instance_uid", lambda: hook.retrieve_instance_metadata("1.2.3", "1.2.4", uid)),
        ("study_instance_uid", lambda: hook.search_for_series(uid)),
        ("study_instance_uid", lambda: hook.delete_study(uid)),
        ("study_instance_uid", lambda: hook.store_instances([], study_instance_uid=uid)),
    ]
    for argument, call in calls:
        with pytest.raises(InvalidUIDError, match=f"{argument} .*{why}"):
            call()
    assert list(tmp_path.iterdir()) == []


def test_a_bad_storage_class_is_refused_before_any_request(hook, tmp_path):
    with pytest.raises(
        ValueError, match="storage_class must be one of STANDARD, NEARLINE, COLDLINE, ARCHIVE"
    ):
        hook.store_instances(make_series(tmp_path, 1), storage_class="cold")


@pytest.mark.parametrize(
    "connection, message",
    [
        ({"conn_type": "dicomweb"}, "the connection has no host"),
        (
            {"conn_type": "dicomweb", "host": "http://127.0.0.1:1/dicom-web", "extra": {"auth_type": "ntlm"}},
            "unknown auth_type 'ntlm'",
        ),
        (
            {
                "conn_type": "dicomweb",
                "host": "http://127.0.0.1:1/dicom-web",
                "extra": {
                    "auth_type": "google",
                    "keyfile_dict": '{"type": "service_account", "private_key": "-----BEGIN',
                },
            },
            "keyfile_dict is not valid JSON",
        ),
        (
            {
                "conn_type": "dicomweb",
                "host": "http://127.0.0.1:1/dicom-web",
                "extra": {"auth_type": "google", "keyfile_dict": '{"type": "service_account"}'},
            },
            "keyfile_dict lacks client_email, private_key, token_uri",
        ),
        (
            {"conn_type": "dicomweb", "host": "http://127.0.0.1:1/dicom-web", "extra": {"timeout": -1}},
            "timeout must be positive",
        ),
    ],
)
def test_a_malformed_connection_says_what_is_wrong_when_used(monkeypatch, connection, message):
    monkeypatch.setenv("AIRFLOW_CONN_MALFORMED", json.dumps(connection))
    hook = DicomWebHook("malformed")  # building the hook is fine: nothing is read until it is used
    with pytest.raises(DicomWebConfigError, match=message) as info:
        hook.search_for_studies()
    assert "BEGIN" not in str(info.value)


def test_a_400_without_a_failure_reason_says_the_server_rejected_the_request(tmp_path):
    """Orthanc answers garbage with 400 and an empty FailedSOPSequence; this fake server does so for a real
    instance. That is not 'not acknowledged': the server rejected the request and gave no reason."""
    from airflow_dicomweb.core.client import DicomWebClient
    from tests.dicom_factory import make_instance
    from tests.fakes.fake_server import FakeServer

    body = b'{"00081198": {"vr": "SQ", "Value": []}}'
    with FakeServer(lambda r: (400, {"Content-Type": "application/dicom+json"}, body)) as server:
        path = make_instance(tmp_path / "a.dcm", study_uid="1.2.3", series_uid="1.2.3.4")
        [failed] = (
            DicomWebClient.from_url(server.url, max_retries=0)
            .store_instances([path], skip_existing=False)
            .failed
        )
    assert (
        failed.reason
        == "the server rejected the request (HTTP 400) without a FailureReason for this instance"
    )
    assert failed.http_status == 400

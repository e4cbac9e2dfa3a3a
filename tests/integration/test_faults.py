"""Faults between the hook and the real Orthanc (tests/fakes/fault_proxy.py), and tasks killed half-way: every
file ends stored exactly once or reported, every retrieved file is complete and byte-identical or absent,
and a re-run finishes the job without redoing finished work."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pydicom
import pytest
from pydicom.uid import generate_uid

from airflow_dicomweb.core.client import DicomWebClient
from tests.dicom_factory import make_series
from tests.fakes.fault_proxy import FaultProxy

ROOT = Path(__file__).resolve().parents[2]
PATIENT_RETRIES = {
    "max_retries": 10,
    "retry_initial_wait": 0.01,
    "retry_max_wait": 0.05,
    "retry_max_elapsed": 60,
}


def client_for(url: str, orthanc, **extra) -> DicomWebClient:
    return DicomWebClient.from_url(
        f"{url}/dicom-web", login=orthanc.username, password=orthanc.password, **{**PATIENT_RETRIES, **extra}
    )


def sop_uid(path) -> str:
    return pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID


def partial_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith(".partial")]


@pytest.mark.parametrize("reset_after_forward", [False, True])
def test_ingest_of_500_through_429_503_and_resets_stores_each_instance_once(
    clean_orthanc, tmp_path, reset_after_forward
):
    files = make_series(tmp_path, 500, rows=8, columns=8)
    rates = {"429": 0.05, "503": 0.05, "reset": 0.02}
    with FaultProxy(clean_orthanc.port, rates, seed=7, reset_after_forward=reset_after_forward) as proxy:
        result = client_for(proxy.url, clean_orthanc).store_instances(files, batch_files=4, concurrency=4)
    assert result.failed == []
    assert len(result.stored) == 500
    assert proxy.injected["429"] + proxy.injected["503"] >= 5 and proxy.injected["reset"] >= 1, proxy.injected
    assert clean_orthanc.count_instances() == 500
    assert clean_orthanc.sop_instance_uids() == {sop_uid(f) for f in files}


def test_instances_left_out_of_a_success_answer_are_sent_again_and_stored_once(
    clean_orthanc, tmp_path, caplog
):
    """A STOW-RS body that reaches Orthanc cut short is answered 200 for the parts it read to their end (a
    part is read to its end by the delimiter after it: three whole parts and no closing delimiter are
    answered for two): the instances the answer leaves out are sent again, on their own, and stored."""
    files = make_series(tmp_path, 4, rows=8, columns=8)
    with FaultProxy(clean_orthanc.port, methods=("POST",)) as proxy:
        proxy.force = ["short"]
        result = client_for(proxy.url, clean_orthanc).store_instances(files, batch_files=4, concurrency=1)
    assert proxy.injected["short"] == 1
    assert "2 of 4 instances were left out of the server's answer" in caplog.text
    assert proxy.stored_parts == 3 + 2, "three parts in the cut body, then the two left out"
    assert result.failed == []
    assert sorted(o.path for o in result.stored) == sorted(str(f) for f in files)
    assert clean_orthanc.sop_instance_uids() == {sop_uid(f) for f in files}


def test_retrieve_through_responses_cut_mid_stream_is_byte_identical_and_leaves_no_partial(
    hook, clean_orthanc, tmp_path
):
    study = generate_uid()
    sources = {sop_uid(f): f for f in make_series(tmp_path / "src", 40, study_uid=study, rows=32, columns=32)}
    assert hook.store_instances(list(sources.values())).ok
    dest = tmp_path / "dest"
    with FaultProxy(clean_orthanc.port, {"cut": 0.05}, seed=3, methods=("GET",)) as proxy:
        proxy.force = ["cut", "cut", "cut"]  # the first three answers are cut for certain
        client = client_for(proxy.url, clean_orthanc)
        paths = client.retrieve_study(study, dest)
        again = client.retrieve_study(study, tmp_path / "dest2", series_concurrency=1, skip_existing=True)
    assert proxy.injected["cut"] >= 3
    assert len(paths) == 40 and len(again) == 40
    for path in [*paths, *again]:
        assert path.read_bytes() == sources[path.stem].read_bytes()
    assert partial_files(tmp_path) == []


def test_a_stalled_response_hits_the_read_timeout_and_is_retried(hook, clean_orthanc, tmp_path):
    files = make_series(tmp_path, 3, rows=8, columns=8)
    assert hook.store_instances(files).ok
    with FaultProxy(clean_orthanc.port, stall_seconds=3, methods=("GET",)) as proxy:
        proxy.force = ["stall"]
        client = client_for(proxy.url, clean_orthanc, timeout=[2, 1])
        started = time.monotonic()
        found = client.search_for_instances()
    assert len(found) == 3 and proxy.injected["stall"] == 1
    assert time.monotonic() - started < 3  # gave up on the stalled answer after the 1 s read timeout


def run_in_child(code: str, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", code],
        env={**os.environ, **env},
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill_when(child: subprocess.Popen, ready, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert child.poll() is None, f"the child ended before it could be killed: {child.communicate()}"
        assert time.monotonic() < deadline, "the child made no progress"
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()


CHILD_STORE = """
import json, os, sys
from airflow_dicomweb.core.client import DicomWebClient
c = DicomWebClient.from_url(os.environ["URL"], login=os.environ["LOGIN"], password=os.environ["PASSWORD"])
c.store_instances(json.loads(os.environ["FILES"]), batch_files=5, concurrency=1)
"""


def test_an_ingest_killed_half_way_finishes_on_rerun_without_sending_stored_files_again(
    clean_orthanc, tmp_path
):
    files = make_series(tmp_path, 200, rows=8, columns=8)
    with FaultProxy(clean_orthanc.port, {"trickle": 1.0}, trickle_pause=0.03) as slow:
        child = run_in_child(
            CHILD_STORE,
            {
                "URL": f"{slow.url}/dicom-web",
                "LOGIN": clean_orthanc.username,
                "PASSWORD": clean_orthanc.password,
                "FILES": json.dumps([str(f) for f in files]),
            },
        )
        kill_when(child, lambda: clean_orthanc.count_instances() >= 50)
    held = clean_orthanc.count_instances()
    assert 50 <= held < 200

    with FaultProxy(clean_orthanc.port) as counting:
        result = client_for(counting.url, clean_orthanc).store_instances(files)
    assert result.failed == []
    assert len(result.already_present) == held and len(result.stored) == 200 - held
    assert counting.stored_parts == 200 - held  # what the killed run stored was not sent again
    assert clean_orthanc.count_instances() == 200


CHILD_RETRIEVE = """
import os
from airflow_dicomweb.core.client import DicomWebClient
c = DicomWebClient.from_url(os.environ["URL"], login=os.environ["LOGIN"], password=os.environ["PASSWORD"])
c.retrieve_study(os.environ["STUDY"], os.environ["DEST"])
"""


def test_a_retrieve_killed_half_way_keeps_complete_files_and_fetches_the_rest(hook, clean_orthanc, tmp_path):
    study = generate_uid()
    # 60 x 128 KiB: several times the 1 MiB the client reads at a time, so files appear one after another
    sources = {
        sop_uid(f): f for f in make_series(tmp_path / "src", 60, study_uid=study, rows=256, columns=256)
    }
    assert hook.store_instances(list(sources.values())).ok
    dest = tmp_path / "dest"
    with FaultProxy(clean_orthanc.port, {"trickle": 1.0}, trickle_pause=0.3) as slow:
        child = run_in_child(
            CHILD_RETRIEVE,
            {
                "URL": f"{slow.url}/dicom-web",
                "LOGIN": clean_orthanc.username,
                "PASSWORD": clean_orthanc.password,
                "STUDY": study,
                "DEST": str(dest),
            },
        )
        kill_when(child, lambda: len(list(dest.rglob("*.dcm"))) >= 10)
    kept = {p: p.stat().st_mtime_ns for p in dest.rglob("*.dcm")}
    assert 10 <= len(kept) < 60
    for path in kept:
        assert path.read_bytes() == sources[path.stem].read_bytes()  # what was renamed into place is whole

    paths = hook.retrieve_study(study, dest, skip_existing=True)
    assert len(paths) == 60
    for path in paths:
        assert path.read_bytes() == sources[path.stem].read_bytes()
    assert all(path.stat().st_mtime_ns == mtime for path, mtime in kept.items())  # kept, not fetched again
    assert partial_files(dest) == []  # the killed run's temporary file is gone


def test_eight_stores_at_once_over_2000_instances(orthanc_conn_id, clean_orthanc, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from airflow_dicomweb.hooks.dicomweb import DicomWebHook

    shares = [make_series(tmp_path / str(n), 250, rows=8, columns=8) for n in range(8)]

    def task(files):
        hook = DicomWebHook(orthanc_conn_id)  # each task its own hook, as separate task instances would
        try:
            return hook.store_instances(files)
        finally:
            hook.close()

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(task, shares))
    assert [len(r.stored) for r in results] == [250] * 8
    assert all(r.ok for r in results)
    assert clean_orthanc.count_instances() == 2000

"""``dicomweb copy`` as a user runs it: a copy killed half way and run again sends only what the destination
lacks; exit codes 0, 1 (each problem named) and 2; the destination's password comes from the environment and
is never printed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from pydicom.uid import generate_uid

from tests.dicom_factory import make_series
from tests.emulators.orthanc_front import OrthancFront
from tests.integration.test_copy import orthanc_client


def dicomweb(source, *args: str, dest=None, wait: bool = True, **env_extra: str):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DICOMWEB_")}
    env["DICOMWEB_PASSWORD"] = source.password
    if dest is not None:
        env["DICOMWEB_TO_PASSWORD"] = dest.password
    env.update(env_extra)
    command = [
        sys.executable, "-m", "airflow_dicomweb.cli", "--retries", "1", "--user", source.username,
        source.dicomweb_url, "copy", *args,
    ]  # fmt: skip
    if not wait:
        return subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    return subprocess.run(
        command, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600
    )


@pytest.fixture
def big_study(clean_orthanc, tmp_path):
    """A study of 4 series of 40 instances (about 130 KB each)."""
    uid = generate_uid()
    with orthanc_client(clean_orthanc) as client:
        for n in range(4):
            files = make_series(tmp_path / str(n), 40, study_uid=uid, rows=256, columns=256)
            assert len(client.store_instances(files).stored) == 40
            for f in files:
                f.unlink()
    return uid


def test_a_killed_copy_run_again_sends_only_what_the_destination_lacks(
    clean_orthanc, clean_orthanc_dest, big_study, tmp_path
):
    def slow_stores(
        request,
    ):  # a destination a little slower than the source, so the copy can be caught mid-way
        if request.method == "POST":
            time.sleep(0.3)
        return None

    with OrthancFront(clean_orthanc_dest, slow_stores) as front:
        dest = front.dicomweb_url
        copying = dicomweb(
            clean_orthanc, "--to-user", clean_orthanc_dest.username, dest, big_study, "--parallel", "1",
            dest=clean_orthanc_dest, wait=False,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while clean_orthanc_dest.count_instances() < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        copying.send_signal(signal.SIGKILL)
        copying.wait(30)
    # a store the front had received whole before the kill still lands: count once the destination is still
    there, settled_at = clean_orthanc_dest.count_instances(), time.monotonic()
    while time.monotonic() - settled_at < 1.5 and time.monotonic() < deadline + 30:
        time.sleep(0.1)
        now = clean_orthanc_dest.count_instances()
        if now != there:
            there, settled_at = now, time.monotonic()
    assert 20 <= there < 160, there  # killed mid-study

    report = tmp_path / "report.json"
    done = dicomweb(
        clean_orthanc, "--to-user", clean_orthanc_dest.username, clean_orthanc_dest.dicomweb_url, big_study,
        "--report", str(report), dest=clean_orthanc_dest,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (entry,) = json.loads(report.read_text())["studies"]
    assert (entry["already_present"], entry["copied"]) == (there, 160 - there)
    assert entry["verification"] == "verified" and entry["missing_after_verify"] == 0
    assert clean_orthanc_dest.sop_instance_uids() == clean_orthanc.sop_instance_uids()
    assert "0 failed, 0 missing after verification" in done.stdout


def test_exit_codes_name_each_problem_and_never_print_the_password(
    clean_orthanc, clean_orthanc_dest, tmp_path
):
    uid = generate_uid()
    with orthanc_client(clean_orthanc) as client:
        client.store_instances(make_series(tmp_path, 2, study_uid=uid))
    unknown = generate_uid()
    dest_args = ("--to-user", clean_orthanc_dest.username, clean_orthanc_dest.dicomweb_url)

    some_missing = dicomweb(clean_orthanc, *dest_args, unknown, uid, dest=clean_orthanc_dest)
    assert some_missing.returncode == 1
    assert f"study {unknown}: not found on the source" in some_missing.stderr
    assert "1 studies not copied" in some_missing.stdout

    wrong = "wrong-password-5b7d"
    refused = dicomweb(clean_orthanc, *dest_args, uid, DICOMWEB_TO_PASSWORD=wrong)
    assert refused.returncode == 3 and "refused the credentials" in refused.stderr
    assert wrong not in refused.stderr + refused.stdout

    same = dicomweb(
        clean_orthanc, "--to-user", "x", clean_orthanc.dicomweb_url, uid, DICOMWEB_TO_PASSWORD="x"
    )
    assert same.returncode == 2 and "the same service" in same.stderr

    for usage in ([], [clean_orthanc_dest.dicomweb_url], [clean_orthanc_dest.dicomweb_url, uid, "-f", "A=B"]):
        bad = dicomweb(clean_orthanc, *usage, DICOMWEB_TO_PASSWORD="x")
        assert bad.returncode == 2, (usage, bad.stderr)

    no_password = dicomweb(clean_orthanc, *dest_args, uid)
    assert no_password.returncode == 2 and "$DICOMWEB_TO_PASSWORD" in no_password.stderr

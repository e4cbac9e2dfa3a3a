"""The ``dicomweb`` command, driven as a subprocess as a user runs it: against the real Orthanc for store,
search and retrieve, and the Google emulator for delete and operations. Each test checks the exit code,
what went to stdout and stderr, and the files on disk."""

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pydicom
import pytest
from PIL import Image
from pydicom.uid import generate_uid

from tests.dicom_factory import make_series
from tests.fakes.fault_proxy import FaultProxy

ROOT = Path(__file__).resolve().parents[2]


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_CONN_", "DICOMWEB_"))}
    return {**env, **extra}


def dicomweb(*args: str, password: str | None = None, env: dict | None = None, timeout: float = 300):
    """Run the command; (exit code, stdout, stderr)."""
    extra = {"DICOMWEB_PASSWORD": password} if password else {}
    done = subprocess.run(
        [sys.executable, "-m", "airflow_dicomweb.cli", *args],
        env=environment(**extra, **(env or {})),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return done.returncode, done.stdout, done.stderr


@pytest.fixture
def orthanc_cli(clean_orthanc):
    """The connection arguments for the Orthanc, and a runner that adds them and the password."""
    base = ["--user", clean_orthanc.username, "--retries", "2", clean_orthanc.dicomweb_url]

    def run(*args: str, **kwargs):
        return dicomweb(*base, *args, password=clean_orthanc.password, **kwargs)

    run.orthanc = clean_orthanc
    run.base = base
    return run


def sop(path: Path) -> str:
    return str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)


def test_help_is_complete_with_examples_and_exit_codes():
    code, out, _ = dicomweb("--help")
    assert code == 0 and "exit codes:" in out and "130" in out and "DICOMWEB_PASSWORD" in out
    for command in ("store", "search", "retrieve", "delete", "operation"):
        code, out, _ = dicomweb(command, "--help")
        assert code == 0 and "examples:" in out and "dicomweb " in out, command
        assert out.startswith(f"usage: dicomweb [OPTIONS] [URL] {command} [-h]"), out.splitlines()[0]


def test_store_files_folders_and_globs_then_again_then_a_bad_file(orthanc_cli, tmp_path):
    a = make_series(tmp_path / "in" / "a", 3, rows=16, columns=16)
    make_series(tmp_path / "in" / "deep" / "b", 2, rows=16, columns=16)
    code, out, err = orthanc_cli("store", "--verbose", str(a[0]), str(tmp_path / "in" / "deep"))
    assert code == 0, err
    assert out.count("stored ") == 3 and "3 stored, 0 already present, 0 failed" in out
    # dcmweb's wildcard form: ./**.dcm is recursive
    code, out, err = orthanc_cli("store", "-m", "2", f"{tmp_path / 'in'}/**.dcm")
    assert code == 0, err
    assert "2 stored, 3 already present, 0 failed" in out
    assert orthanc_cli.orthanc.count_instances() == 5

    (tmp_path / "in" / "notes.dcm").write_text("not DICOM")
    code, out, err = orthanc_cli("store", str(tmp_path / "in"))
    assert code == 1
    assert "0 stored, 5 already present, 1 failed" in out
    assert "1 of 6 inputs were not stored" in err and "notes.dcm" in err and "not a DICOM Part 10 file" in err
    assert orthanc_cli.orthanc.password not in out + err


def test_search_formats_filters_paging_and_usage_errors(orthanc_cli, tmp_path):
    study = generate_uid()
    make_series(tmp_path, 5, study_uid=study, rows=16, columns=16, study_date="20240301")
    assert orthanc_cli("store", str(tmp_path))[0] == 0

    code, out, _ = orthanc_cli("search", "instances", "--study", study, "--json")
    found = json.loads(out)
    assert code == 0 and sorted(i["00080018"]["Value"][0] for i in found) == sorted(
        sop(p) for p in tmp_path.iterdir()
    )
    code, out, err = orthanc_cli("search", "studies", "-f", "StudyDate=20240301", "--ndjson")
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [s["0020000D"]["Value"][0] for s in lines] == [study] and "1 study" in err
    code, out, _ = orthanc_cli("search", "series", "--study", study, "--csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert (
        code == 0
        and len(rows) == 1
        and rows[0]["Modality"] == "CT"
        and rows[0]["NumberOfSeriesRelatedInstances"] == "5"
    )
    code, out, _ = orthanc_cli("search", "studies", "--table", "--include", "StudyTime")
    header = out.splitlines()[0].split()
    assert code == 0 and header[:2] == ["StudyInstanceUID", "StudyDate"] and "StudyTime" in header
    assert study in out and "TEST^PATIENT" in out
    code, out, _ = orthanc_cli("search", "instances", "--study", study, "--limit", "2", "--ndjson")
    assert code == 0 and len(out.splitlines()) == 2
    # in a pipe, the default is NDJSON
    code, out, _ = orthanc_cli("search", "instances", "--study", study)
    assert code == 0 and len([json.loads(line) for line in out.splitlines()]) == 5

    assert orthanc_cli("search", "studies", "-f", "StudyDate")[0] == 2
    assert orthanc_cli("search", "studies", "-f", "NotAKeyword=1")[0] == 2
    assert orthanc_cli("search", "planets")[0] == 2
    code, _, err = dicomweb("search", "studies")  # no service named
    assert code == 2 and "name the service" in err


def test_retrieve_a_study_resumes_and_every_other_form(orthanc_cli, tmp_path):
    study = generate_uid()
    sources = {
        sop(f): f for f in make_series(tmp_path / "src", 6, study_uid=study, rows=32, columns=32, frames=3)
    }
    assert orthanc_cli("store", str(tmp_path / "src"))[0] == 0
    dest = tmp_path / "out"
    code, out, err = orthanc_cli("retrieve", f"studies/{study}", "--dest", str(dest))
    assert code == 0, err
    files = sorted(dest.rglob("*.dcm"))
    assert len(files) == 6 and f"6 instances of studies/{study} in {dest} (6 fetched, 0 already there)" in out
    for path in files:
        assert path.parent.parent.name == study and path.read_bytes() == sources[path.stem].read_bytes()
    # a second run fetches only what is missing
    missing = files[2]
    missing.unlink()
    kept = {p: p.stat().st_mtime_ns for p in files if p != missing}
    code, out, _ = orthanc_cli("retrieve", f"studies/{study}", "--dest", str(dest))
    assert code == 0 and "(1 fetched, 5 already there)" in out
    assert missing.read_bytes() == sources[missing.stem].read_bytes()
    assert all(p.stat().st_mtime_ns == t for p, t in kept.items())

    series = files[0].parent.name
    instance = f"studies/{study}/series/{series}/instances/{files[0].stem}"
    code, out, _ = orthanc_cli(
        "retrieve", f"studies/{study}/series/{series}", "--metadata", "--dest", str(tmp_path / "m")
    )
    assert code == 0 and len(json.loads(Path(out.strip()).read_text())) == 6
    code, out, err = orthanc_cli(
        "retrieve", f"studies/{study}", "--rendered", "--viewport", "16x16", "--dest", str(tmp_path / "r")
    )
    assert code == 0, err
    assert Image.open(out.strip()).format == "PNG"
    code, out, err = orthanc_cli("retrieve", instance, "--frames", "1,3", "--dest", str(tmp_path / "f"))
    assert code == 0, err
    frames = out.split()
    assert code == 0 and [Path(f).name for f in frames] == ["frame-1.raw", "frame-3.raw"]
    pixels = pydicom.dcmread(sources[files[0].stem]).PixelData
    assert Path(frames[1]).read_bytes() == pixels[2 * 32 * 32 * 2 : 3 * 32 * 32 * 2]
    code, out, err = orthanc_cli(
        "retrieve", instance, "--bulkdata", "7FE00010", "--dest", str(tmp_path / "b")
    )
    assert code == 0, err
    assert Path(out.strip()).read_bytes() == pixels

    assert orthanc_cli("retrieve", "studies/1.2.3/series")[0] == 2
    assert orthanc_cli("retrieve", f"studies/{study}", "--frames", "1")[0] == 2  # frames need an instance
    assert orthanc_cli("retrieve", f"studies/{study}", "--all")[0] == 2
    unknown = generate_uid()
    code, _, err = orthanc_cli("retrieve", f"studies/{unknown}", "--dest", str(tmp_path / "none"))
    assert code == 3 and f"study {unknown} was not found on the server" in err

    # '-' sends one value to standard output
    code, out, err = orthanc_cli("retrieve", f"studies/{study}/series/{series}", "--metadata", "--dest", "-")
    assert code == 0, err
    assert len(json.loads(out)) == 6
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "airflow_dicomweb.cli",
            *orthanc_cli.base,
            "retrieve",
            instance,
            "--bulkdata",
            "7FE00010",
            "--dest",
            "-",
        ],
        env=environment(DICOMWEB_PASSWORD=orthanc_cli.orthanc.password),
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0 and done.stdout == pixels
    code, _, err = orthanc_cli("retrieve", f"studies/{study}", "--dest", "-")
    assert code == 2 and "instances need a folder" in err


def test_retrieve_all_fetches_every_study_in_parallel(orthanc_cli, tmp_path):
    studies = [generate_uid() for _ in range(3)]
    for n, uid in enumerate(studies):
        make_series(tmp_path / "src" / str(n), 2, study_uid=uid, rows=16, columns=16)
    assert orthanc_cli("store", str(tmp_path / "src"))[0] == 0
    code, out, err = orthanc_cli("retrieve", "--all", "--parallel", "3", "--dest", str(tmp_path / "all"))
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "all").iterdir()) == sorted(studies)
    assert len(list((tmp_path / "all").rglob("*.dcm"))) == 6 and "6 instances of 3 studies" in out


def slow_study(orthanc_cli, tmp_path, count=60):
    study = generate_uid()
    make_series(tmp_path / "src", count, study_uid=study, rows=256, columns=256)
    assert orthanc_cli("store", str(tmp_path / "src"))[0] == 0
    return study


def start(args: list[str], password: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "airflow_dicomweb.cli", *args],
        env=environment(DICOMWEB_PASSWORD=password),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_files(child, dest: Path, count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while len(list(dest.rglob("*.dcm"))) < count:
        assert child.poll() is None, f"ended before it could be stopped: {child.communicate()}"
        assert time.monotonic() < deadline, "no progress"
        time.sleep(0.05)


@pytest.mark.parametrize("how", ["SIGKILL", "Ctrl-C"])
def test_an_interrupted_retrieve_says_what_finished_and_a_rerun_completes_it(orthanc_cli, tmp_path, how):
    study = slow_study(orthanc_cli, tmp_path)
    dest = tmp_path / "out"
    orthanc = orthanc_cli.orthanc
    with FaultProxy(orthanc.port, {"trickle": 1.0}, trickle_pause=0.3) as slow:
        args = [
            "--user",
            orthanc.username,
            f"{slow.url}/dicom-web",
            "retrieve",
            f"studies/{study}",
            "--dest",
            str(dest),
        ]
        child = start(args, orthanc.password)
        wait_for_files(child, dest, 5)
        child.send_signal(signal.SIGKILL if how == "SIGKILL" else signal.SIGINT)
        _, err = child.communicate(timeout=30)
    if how == "Ctrl-C":
        assert child.returncode == 130
        assert "interrupted; finished so far:" in err and "run the same command again to resume" in err
    kept = list(dest.rglob("*.dcm"))
    assert 5 <= len(kept) < 60
    for path in kept:  # what is in place is whole
        assert sop(path) == path.stem
    code, _out, err = orthanc_cli("retrieve", f"studies/{study}", "--dest", str(dest))
    assert code == 0, err
    files = list(dest.rglob("*.dcm"))
    assert len(files) == 60 and all(sop(p) == p.stem for p in files)
    assert [p for p in dest.rglob("*") if p.is_file() and p.suffix != ".dcm"] == []  # no temp file left


def test_the_progress_lines_and_a_server_error_exit_3(orthanc_cli, tmp_path):
    make_series(tmp_path, 3, rows=16, columns=16)
    code, _, err = orthanc_cli("store", str(tmp_path))
    assert code == 0 and "store: 3/3 files" in err  # not a terminal: progress as lines on stderr
    code, _, err = orthanc_cli("--quiet", "store", str(tmp_path))
    assert code == 0 and "store:" not in err
    code, _, err = orthanc_cli("store", str(tmp_path))  # all there already: no transfer, no rate
    assert code == 0 and "store: 3/3 files (3 already there)" in err and "(0.0 MB/s, 0 files/s)" in err
    code, _, err = dicomweb("--retries", "0", "http://127.0.0.1:9/dicom-web", "search", "studies")
    assert code == 3 and "connection failed" in err
    code, _, err = dicomweb(
        "--user",
        "orthanc",
        "--retries",
        "0",
        orthanc_cli.orthanc.dicomweb_url,
        "search",
        "studies",
        env={"DICOMWEB_PASSWORD": "wrong-password-xyz"},
    )
    assert code == 3 and "401" in err and "wrong-password-xyz" not in err


@pytest.fixture
def google_cli(google, tmp_path):
    (tmp_path / "key").mkdir()
    key = tmp_path / "key" / "key.json"  # outside the folders the tests store
    key.write_text(json.dumps(google.service_account_key()))
    base = [
        "--google",
        f"{google.project}/{google.location}/{google.dataset}/{google.dicom_store}",
        "--api-root",
        google.url,
        "--key-file",
        str(key),
        "--retries",
        "1",
    ]

    def run(*args: str, **kwargs):
        return dicomweb(*base, *args, **kwargs)

    return run


def test_delete_waits_on_the_operation_with_its_counters(google_cli, google, tmp_path):
    uid = generate_uid()
    make_series(tmp_path / "a", 3, study_uid=uid, rows=16, columns=16)
    code, out, err = google_cli("store", str(tmp_path / "a"))
    assert code == 0, out + err
    code, out, err = google_cli("delete", f"studies/{uid}", "--poll", "0.1")
    assert code == 0, err
    assert (
        out.strip() == f"deleted studies/{uid}"
        and ": running (success" in err
        and "succeeded (success 3, failure 0, pending 0)" in err
    )
    assert google.orthanc.count_instances() == 0


def test_delete_no_wait_then_operation_and_a_failed_and_a_timed_out_operation(google_cli, google, tmp_path):
    uid = generate_uid()
    make_series(tmp_path / "a", 2, study_uid=uid, rows=16, columns=16)
    assert google_cli("store", str(tmp_path / "a"))[0] == 0
    google.hold_operations()
    code, out, _ = google_cli("delete", f"studies/{uid}", "--no-wait")
    name = out.strip()
    assert code == 0 and "/operations/" in name
    code, out, _ = google_cli("operation", name)
    assert code == 0 and json.loads(out)["name"] == name and not json.loads(out).get("done")
    code, _, err = google_cli("operation", name, "--wait", "--timeout", "1", "--poll", "0.2")
    assert code == 3 and "still running after 1 s" in err
    google.release_operations()
    code, out, _ = google_cli("operation", name, "--wait", "--poll", "0.1")
    assert code == 0 and json.loads(out)["done"] is True

    other = generate_uid()
    make_series(tmp_path / "b", 1, study_uid=other, rows=16, columns=16)
    assert google_cli("store", str(tmp_path / "b"))[0] == 0
    google.fail_next_operation = {"code": 9, "message": "the store is locked"}
    code, _, err = google_cli("delete", f"studies/{other}", "--poll", "0.1")
    assert code == 1 and "code 9" in err and "the store is locked" in err


def test_the_command_runs_without_airflow(orthanc_cli, tmp_path):
    """Airflow made unimportable: store, search and retrieve work; --conn-id says what it needs."""
    make_series(tmp_path / "src", 2, rows=16, columns=16)
    blocker = (
        "import sys, runpy; sys.modules['airflow'] = None; sys.argv = ['dicomweb', *sys.argv[1:]]; "
        "runpy.run_module('airflow_dicomweb.cli', run_name='__main__'); "
    )
    check = (
        "import sys, runpy, atexit; sys.modules['airflow'] = None; "
        "atexit.register(lambda: print('AIRFLOW-LOADED' if [m for m in sys.modules if m.startswith('airflow.')] else '', file=sys.stderr)); "
        "sys.argv = ['dicomweb', *sys.argv[1:]]; runpy.run_module('airflow_dicomweb.cli', run_name='__main__')"
    )
    env = environment(DICOMWEB_PASSWORD=orthanc_cli.orthanc.password)
    for code_text in (blocker, check):
        done = subprocess.run(
            [sys.executable, "-c", code_text, *orthanc_cli.base, "store", str(tmp_path / "src")],
            env=env,
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert "AIRFLOW-LOADED" not in done.stderr
    done = subprocess.run(
        [sys.executable, "-c", blocker, "--conn-id", "x", "search", "studies"],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 2 and "Airflow is not installed" in done.stderr


def test_conn_id_reads_an_airflow_connection(orthanc_cli, tmp_path):
    from tests.connections import orthanc_connection

    make_series(tmp_path, 2, rows=16, columns=16)
    env = {"AIRFLOW_CONN_CLI_ORTHANC": orthanc_connection(orthanc_cli.orthanc)}
    code, out, err = dicomweb("--conn-id", "cli_orthanc", "store", str(tmp_path), env=env)
    assert code == 0 and "2 stored" in out, err


def test_a_hostile_search_answer_cannot_name_a_file_outside_the_destination(tmp_path):
    """--rendered of a study asks the server for an instance; UIDs like ../../x in its answer are refused
    before they become part of a path."""
    from tests.fakes.fake_server import FakeServer

    answer = json.dumps(
        [{"0020000E": {"vr": "UI", "Value": ["../../x"]}, "00080018": {"vr": "UI", "Value": ["1.2"]}}]
    )
    with FakeServer(lambda r: (200, {"Content-Type": "application/dicom+json"}, answer.encode())) as server:
        dest = tmp_path / "a" / "b"
        code, _, err = dicomweb(
            "--retries", "0", server.url, "retrieve", "studies/1.2.3", "--rendered", "--dest", str(dest)
        )
    assert code == 2 and "SeriesInstanceUID in the search result" in err
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_an_unexpected_error_is_one_line_with_no_traceback_and_no_secret(clean_orthanc, monkeypatch, capsys):
    from airflow_dicomweb.cli.main import main as cli_main
    from airflow_dicomweb.core.client import DicomWebClient

    password = clean_orthanc.password

    def broken(self, *args, **kwargs):
        raise KeyError(f"a bug that quotes {password}")

    monkeypatch.setattr(DicomWebClient, "iter_search", broken)
    monkeypatch.setenv("DICOMWEB_PASSWORD", password)
    code = cli_main(["--user", clean_orthanc.username, clean_orthanc.dicomweb_url, "search", "studies"])
    err = capsys.readouterr().err
    assert code == 4
    assert "unexpected error (KeyError" in err and "--debug" in err
    assert "Traceback" not in err and password not in err


def test_watch_prints_a_study_stored_in_bursts_once_complete_and_a_restart_with_its_state_nothing_again(
    orthanc_cli, tmp_path
):
    orthanc = orthanc_cli.orthanc
    state = tmp_path / "watch.json"
    args = ["--source", "orthanc-changes", "--settle-seconds", "2", "--poll-interval", "0.3", "--state"]
    child = start(
        [*orthanc_cli.base, "watch", *args, str(state), "--count", "1", "--timeout", "60"], orthanc.password
    )
    deadline = time.monotonic() + 30
    while not state.exists():  # the baseline is kept
        assert child.poll() is None and time.monotonic() < deadline, child.communicate()
        time.sleep(0.1)
    study = generate_uid()
    for n in range(3):  # three bursts, half a second apart
        make_series(tmp_path / f"burst{n}", 2, study_uid=study, study_date="19990101", rows=8, columns=8)
        assert orthanc_cli("store", str(tmp_path / f"burst{n}"))[0] == 0
        time.sleep(0.5)
    out, err = child.communicate(timeout=90)
    assert child.returncode == 0, err
    [line] = out.splitlines()
    event = json.loads(line)
    assert (event["StudyInstanceUID"], event["NumberOfStudyRelatedInstances"], event["update"]) == (
        study,
        6,
        False,
    )
    assert "baseline after Orthanc's change" in err
    # again from the kept state: the study is not announced twice
    code, out, err = orthanc_cli("watch", *args, str(state), "--timeout", "4")
    assert (code, out) == (0, ""), err
    # a broken state file is named
    state.write_text("{not json")
    code, _, err = orthanc_cli("watch", *args, str(state), "--timeout", "1")
    assert code == 2 and f"--state {state}: not a readable cursor" in err

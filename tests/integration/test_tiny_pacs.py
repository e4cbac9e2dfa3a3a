"""Against tiny_pacs, a real DICOMweb server no one here wrote (tests/servers/tiny_pacs_server.py): its QIDO pages are
capped at 10,000 without a word, and it has no study-level instance search. No result and no file is lost to
either: searches page past the cap, and retrieves, resumes and ``retrieve --all`` do without the listing."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

from airflow_dicomweb.core.client import DicomWebClient
from airflow_dicomweb.core.errors import DicomWebNotFoundError
from airflow_dicomweb.core.stow.result import Status
from tests.connections import FAST_RETRY_EXTRAS


def part10(study: str, series: str, number: int) -> bytes:
    """A small Secondary Capture instance (4x4 pixels), as Part 10 bytes."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
    ds.PatientName, ds.PatientID, ds.StudyDate, ds.Modality = "TINY^PACS", "TP-1", "20240301", "OT"
    ds.InstanceNumber = number
    ds.Rows = ds.Columns = 4
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = bytes([number % 256]) * 16
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def client_for(tiny, **extra) -> DicomWebClient:
    return DicomWebClient.from_url(
        tiny.dicomweb_url, auth_type="bearer", password=tiny.token, **FAST_RETRY_EXTRAS, **extra
    )


def requests_made(client: DicomWebClient) -> list[str]:
    """The URL of every request the client makes from now on (a hook of its session)."""
    made: list[str] = []
    client.transport.session.hooks["response"].append(lambda response, **_: made.append(response.url))
    return made


def files_under(folder: Path) -> dict[str, bytes]:
    return {p.stem: p.read_bytes() for p in folder.rglob("*.dcm")}


def sop_uid(data: bytes) -> str:
    return pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True).SOPInstanceUID


def cli(server, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DICOMWEB_")}
    env["DICOMWEB_TOKEN"] = server.token
    return subprocess.run(
        [sys.executable, "-m", "airflow_dicomweb.cli", "--retries", "1", server.dicomweb_url, *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )


@pytest.fixture(scope="module")
def big_series(tiny_pacs):
    """One series of 10,050 instances: 50 more than tiny_pacs answers in a page."""
    study, series = generate_uid(), generate_uid()
    parts = [part10(study, series, i + 1) for i in range(tiny_pacs.page_cap + 50)]
    tiny_pacs.store(parts)
    return study, series, {sop_uid(p): p for p in parts}


@pytest.fixture(scope="module")
def small_study(tiny_pacs):
    """13 instances in three series (5, 5 and 3), as the study the report retrieved 6 of."""
    study = generate_uid()
    parts = [
        part10(study, series, i + 1)
        for series, n in ((generate_uid(), 5), (generate_uid(), 5))
        for i in range(n)
    ]
    series3 = generate_uid()
    parts += [part10(study, series3, i + 1) for i in range(3)]
    tiny_pacs.store(parts)
    return study, {sop_uid(p): p for p in parts}


def test_the_server_caps_its_pages_silently(tiny_pacs, big_series):
    """What makes the tests below worth running: the cap is real, and nothing says more exist."""
    study, series, _ = big_series
    response = tiny_pacs.session.get(
        f"{tiny_pacs.dicomweb_url}/studies/{study}/series/{series}/instances", params={"limit": 50000}
    )
    assert response.status_code == 200 and "Warning" not in response.headers
    assert len(response.json()) == tiny_pacs.page_cap


def test_a_search_gets_every_instance_past_the_cap(tiny_pacs, big_series):
    study, series, held = big_series
    found = client_for(tiny_pacs).search_for_instances(study, series)
    assert sorted(r["00080018"]["Value"][0] for r in found) == sorted(held)


def test_the_command_line_search_prints_every_instance(tiny_pacs, big_series):
    study, series, held = big_series
    done = cli(tiny_pacs, "search", "instances", "--study", study, "--series", series, "--csv")
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == len(held) + 1  # the header line, then one line a result


def test_a_resumed_retrieve_ends_with_every_file(tiny_pacs, big_series, tmp_path):
    study, series, held = big_series
    client = client_for(tiny_pacs)
    client.retrieve_series(study, series, tmp_path, skip_existing=True)
    folder = tmp_path / study / series
    assert files_under(folder) == held
    removed = sorted(folder.glob("*.dcm"))[::197][:51]
    for path in removed:
        path.unlink()
    kept = {p: p.stat().st_mtime_ns for p in folder.glob("*.dcm")}
    client.retrieve_series(study, series, tmp_path, skip_existing=True)
    assert files_under(folder) == held
    assert all(p.stat().st_mtime_ns == mtime for p, mtime in kept.items())  # only the missing were fetched


def test_the_store_pre_check_sees_every_instance_held(tiny_pacs, big_series, tmp_path):
    held = big_series[2]
    last = sorted(held)[-60:]  # whichever page the server would have cut them from
    for uid in last:
        (tmp_path / f"{uid}.dcm").write_bytes(held[uid])
    result = client_for(tiny_pacs).store_instances([tmp_path])
    assert len(result.already_present) == 60 and not result.stored and not result.failed


def test_a_study_retrieve_needs_no_instance_search(tiny_pacs, small_study, tmp_path, caplog):
    study, held = small_study
    client = client_for(tiny_pacs)
    with caplog.at_level(logging.INFO, logger="airflow_dicomweb"):
        client.retrieve_study(study, tmp_path, skip_existing=True, series_concurrency=1)
    assert files_under(tmp_path) == held
    assert "its instances cannot be listed" in caplog.text and "fetching it whole" in caplog.text

    removed = sorted(tmp_path.rglob("*.dcm"))[::3]
    for path in removed:
        path.unlink()
    kept = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.dcm")}
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="airflow_dicomweb"):
        client.retrieve_study(study, tmp_path, skip_existing=True, series_concurrency=1)
    assert files_under(tmp_path) == held
    assert all(p.stat().st_mtime_ns == mtime for p, mtime in kept.items())  # complete files kept
    assert caplog.text.count("keeping the complete files already in place") == 1


def test_a_study_retrieve_in_parallel_series_resumes(tiny_pacs, small_study, tmp_path):
    study, held = small_study
    client = client_for(tiny_pacs)
    client.retrieve_study(study, tmp_path, skip_existing=True)
    for path in sorted(tmp_path.rglob("*.dcm"))[::4]:
        path.unlink()
    client.retrieve_study(study, tmp_path, skip_existing=True)
    assert files_under(tmp_path) == held


def test_the_command_line_retrieves_every_study(tiny_pacs, small_study, tmp_path):
    study, held = small_study
    done = cli(tiny_pacs, "retrieve", f"studies/{study}", "--dest", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert files_under(tmp_path / study) == held


def test_the_command_line_retrieves_all_studies_and_resumes(tmp_path):
    """On a server of its own, holding three one-series studies and a three-series one."""
    from tests.servers.tiny_pacs_server import TinyPacsServer

    server = TinyPacsServer().start()
    try:
        parts = [part10(generate_uid(), generate_uid(), 1) for _ in range(3)]
        study = generate_uid()
        three_series = (generate_uid(), generate_uid(), generate_uid())
        parts += [part10(study, series, i + 1) for series in three_series for i in range(3)]
        server.store(parts)
        held = {sop_uid(p): p for p in parts}
        done = cli(server, "retrieve", "--all", "--dest", str(tmp_path))
        assert done.returncode == 0, done.stderr
        assert files_under(tmp_path) == held
        for path in sorted(tmp_path.rglob("*.dcm"))[::2]:
            path.unlink()
        done = cli(server, "retrieve", "--all", "--dest", str(tmp_path))
        assert done.returncode == 0, done.stderr
        assert files_under(tmp_path) == held
    finally:
        server.stop()


def test_an_unknown_study_is_named(tiny_pacs, tmp_path):
    unknown = generate_uid()
    with pytest.raises(DicomWebNotFoundError, match=f"study {unknown} was not found"):
        client_for(tiny_pacs).retrieve_study(unknown, tmp_path, skip_existing=True)
    done = cli(tiny_pacs, "retrieve", f"studies/{unknown}", "--dest", str(tmp_path))
    assert done.returncode != 0
    assert f"study {unknown} was not found" in done.stderr
    assert "/instances" not in done.stderr.split("(")[0]


def test_a_duplicate_is_already_present_where_the_profile_says_so_and_never_guessed(tiny_pacs, tmp_path):
    study, series = generate_uid(), generate_uid()
    path = tmp_path / "one.dcm"
    path.write_bytes(part10(study, series, 1))
    profiled = client_for(tiny_pacs, server="tiny-pacs")
    assert len(profiled.store_instances([path], skip_existing=False).stored) == 1
    again = profiled.store_instances([path], skip_existing=False)
    assert len(again.already_present) == 1 and again.already_present[0].http_status == 409
    # without the profile, a bare 409 with 0x0110 ("Processing failure") is not taken for a duplicate
    generic = client_for(tiny_pacs).store_instances([path], skip_existing=False)
    assert len(generic.failed) == 1 and "Processing failure" in generic.failed[0].reason


def test_the_profile_s_page_cap_saves_the_request_past_the_last_page(tiny_pacs, small_study, big_series):
    study = small_study[0]
    for extra, expected in (({}, 2), ({"server": "tiny-pacs"}, 1)):
        client = client_for(tiny_pacs, **extra)
        made = requests_made(client)
        assert len(client.search_for_series(study)) == 3
        assert len(made) == expected, (extra, made)
    big_study, big, everything = big_series
    client = client_for(tiny_pacs, server="tiny-pacs")
    made = requests_made(client)
    assert len(client.search_for_instances(big_study, big)) == len(everything)
    assert len(made) == 2  # 10,000 then 50: as many requests as pages


def parallel_study(tmp_path, series: int = 8, per_series: int = 4) -> tuple[str, list]:
    """A new study of ``series`` series of ``per_series`` small instances, as files."""
    study = generate_uid()
    files = []
    for s in range(series):
        series_uid = generate_uid()
        for n in range(per_series):
            files.append(tmp_path / f"{s}-{n}.dcm")
            files[-1].write_bytes(part10(study, series_uid, n))
    return study, files


def test_its_ambiguous_duplicate_answer_is_never_taken_for_an_instance_it_holds(tiny_pacs, tmp_path):
    """Sent four requests at once (its profile's limit of one lifted), tiny_pacs answers 409 with 0x0110, its
    duplicate answer, to some instances it did not store, and keeps some of them lost. No such answer is
    taken on its word: what is reported stored or present is exactly what its searches list, and every other
    instance is failed, named, with the reason."""
    study, files = parallel_study(tmp_path)
    with client_for(tiny_pacs, server="tiny-pacs") as client:
        store = client.transactions.store
        store.profile = replace(store.profile, stow_concurrency=None)
        result = client.store_instances(files, batch_files=2, concurrency=4, skip_existing=False)
        listed = {
            sop
            for sops in client.transactions.instances.listing.every_instance(study).values()
            for sop in sops
        }
    held = {o.sop_instance_uid for o in result.outcomes if o.status is not Status.FAILED}
    assert held == listed and len(result.outcomes) == 32
    assert all("and not found on the server" in o.reason for o in result.failed)


def test_stores_to_it_are_sent_one_request_at_a_time_and_lose_nothing(tiny_pacs, tmp_path):
    study, files = parallel_study(tmp_path)
    with client_for(tiny_pacs, server="tiny-pacs") as client:
        result = client.store_instances(files, batch_files=2, concurrency=4, skip_existing=False)
        assert len(result.stored) == 32, str(result)
        listed = client.transactions.instances.listing.every_instance(study)
        assert sum(len(sops) for sops in listed.values()) == 32
        again = client.store_instances(files[:3], skip_existing=False)
        assert len(again.already_present) == 3  # a real duplicate is still read as already present

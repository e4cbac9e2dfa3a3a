"""Copy between two real archives (WADO-RS into STOW-RS): Orthanc to Orthanc, Orthanc to tiny_pacs and back,
Orthanc to the Google and Azure emulators, and Orthanc behind a static-wado front as the source. Bytes are
kept, a re-run sends only what the destination lacks, and a destination that drops what it acknowledged is
caught by the verification."""

from __future__ import annotations

import json
import threading
from dataclasses import replace

import pydicom
import pytest
from pydicom.uid import generate_uid

from airflow_dicomweb.core.client import DicomWebClient
from airflow_dicomweb.core.copy.copy import copy_studies
from airflow_dicomweb.core.errors import DicomWebAuthError, DicomWebConfigError
from airflow_dicomweb.core.servers.profile import ServerProfile
from tests.connections import FAST_RETRY_EXTRAS
from tests.dicom_factory import make_series
from tests.emulators.orthanc_front import OrthancFront


def orthanc_client(orthanc, **extra) -> DicomWebClient:
    return DicomWebClient.from_url(
        orthanc.dicomweb_url, login=orthanc.username, password=orthanc.password, **FAST_RETRY_EXTRAS, **extra
    )


def tiny_client(tiny, **extra) -> DicomWebClient:
    return DicomWebClient.from_url(
        tiny.dicomweb_url,
        auth_type="bearer",
        password=tiny.token,
        server="tiny-pacs",
        **FAST_RETRY_EXTRAS,
        **extra,
    )


def stow_posts(client: DicomWebClient) -> list[str]:
    """The body length of every STOW-RS request the client makes from now on."""
    posts: list[str] = []

    def count(response, **_):
        if response.request.method == "POST":
            posts.append(response.request.headers.get("Content-Length"))

    client.transport.session.hooks["response"].append(count)
    return posts


@pytest.fixture
def study(tmp_path, samples):
    """A study of two series (3 and 2 instances) plus a JPEG-compressed instance of a third: its UID and
    every instance's bytes by SOP Instance UID."""
    uid = generate_uid()
    files = make_series(tmp_path / "a", 3, study_uid=uid, rows=32, columns=32)
    files += make_series(tmp_path / "b", 2, study_uid=uid, rows=16, columns=16, modality="MR")
    ds = pydicom.dcmread(samples["jpeg"])
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID = uid, generate_uid(), generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    jpeg = tmp_path / "jpeg.dcm"
    ds.save_as(jpeg)
    files.append(jpeg)
    return (
        uid,
        files,
        {pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID: f.read_bytes() for f in files},
    )


def held_bytes(orthanc, sops) -> dict[str, bytes]:
    return {sop: orthanc.instance_bytes(sop) for sop in sops}


def test_orthanc_to_orthanc_keeps_every_byte_and_a_rerun_sends_nothing(
    clean_orthanc, clean_orthanc_dest, study
):
    uid, files, want = study
    with orthanc_client(clean_orthanc) as source, orthanc_client(clean_orthanc_dest) as dest:
        assert len(source.store_instances(files).stored) == 6
        report = copy_studies(source, dest, [uid])
        assert report.ok, report.problems()
        (entry,) = report.studies
        assert (entry.source_instances, entry.copied, entry.already_present, entry.failed) == (6, 6, 0, 0)
        assert entry.verification == "verified" and entry.bytes_copied == sum(len(b) for b in want.values())
        assert held_bytes(clean_orthanc_dest, want) == want  # byte-identical, the JPEG not transcoded

        posts = stow_posts(dest)
        again = copy_studies(source, dest, [uid])
        assert again.ok and again.studies[0].copied == 0 and again.studies[0].already_present == 6
        assert posts == []  # nothing sent: the destination's listing said it holds everything


def test_a_rerun_after_a_partial_copy_sends_only_what_the_destination_lacks(
    clean_orthanc, clean_orthanc_dest, study
):
    uid, files, want = study
    with orthanc_client(clean_orthanc) as source, orthanc_client(clean_orthanc_dest) as dest:
        source.store_instances(files)
        # the destination holds some of the study already: the first series whole, one instance of the second
        dest.store_instances(files[:4])
        posts = stow_posts(dest)
        report = copy_studies(source, dest, [uid])
        (entry,) = report.studies
        assert report.ok and (entry.already_present, entry.copied) == (4, 2)
        assert posts  # the two missing ones were sent, and nothing else was
        assert held_bytes(clean_orthanc_dest, want) == want


def test_orthanc_to_tiny_pacs_and_back(clean_orthanc, clean_orthanc_dest, tiny_pacs, study, tmp_path):
    uid, files, want = study
    with (
        orthanc_client(clean_orthanc) as orthanc,
        tiny_client(tiny_pacs) as tiny,
        orthanc_client(clean_orthanc_dest) as back,
    ):
        orthanc.store_instances(files)
        there = copy_studies(orthanc, tiny, [uid])
        assert there.ok and there.studies[0].copied == 6, there.problems()
        again = copy_studies(orthanc, tiny, [uid])  # tiny_pacs lists a study only series by series
        assert again.ok and again.studies[0].already_present == 6 and again.studies[0].copied == 0
        home = copy_studies(tiny, back, [uid])
        assert home.ok and home.studies[0].copied == 6, home.problems()
        served = {path.stem: path.read_bytes() for path in tiny.retrieve_study(uid, tmp_path / "tiny")}
    # tiny_pacs writes File Meta Information of its own when it stores (its Implementation Class UID): the
    # dataset is what was sent, and what it serves reaches the other Orthanc byte for byte
    assert {sop: after_file_meta(data) for sop, data in served.items()} == {
        sop: after_file_meta(data) for sop, data in want.items()
    }
    assert held_bytes(clean_orthanc_dest, want) == served


def after_file_meta(part10: bytes) -> bytes:
    """A Part 10 file's dataset: what follows its File Meta Information group."""
    assert part10[128:132] == b"DICM" and part10[132:136] == b"\x02\x00\x00\x00"
    return part10[144 + int.from_bytes(part10[140:144], "little") :]


@pytest.mark.parametrize("cloud", ["google", "azure"])
def test_orthanc_to_the_cloud_emulators(cloud, clean_orthanc, clean_orthanc_dest, study, monkeypatch):
    uid, files, want = study
    if cloud == "google":
        from tests.connections import google_connection  # noqa: F401 - the emulator's contract
        from tests.emulators.google_emulator import GoogleEmulator

        emulator = GoogleEmulator(clean_orthanc_dest)
    else:
        from tests.emulators.azure_emulator import AzureEmulator

        emulator = AzureEmulator(clean_orthanc_dest)
    with emulator, orthanc_client(clean_orthanc) as source:
        if cloud == "google":
            dest = DicomWebClient.from_url(
                None,
                auth_type="google",
                keyfile_dict=json.dumps(emulator.service_account_key()),
                api_root=emulator.url,
                project=emulator.project,
                location=emulator.location,
                dataset=emulator.dataset,
                dicom_store=emulator.dicom_store,
                **FAST_RETRY_EXTRAS,
            )
        else:
            for name, value in emulator.environment.items():
                monkeypatch.setenv(name, value)
            dest = DicomWebClient.from_url(
                emulator.dicom.dicomweb_url, auth_type="azure", server="azure", **FAST_RETRY_EXTRAS
            )
        with dest:
            source.store_instances(files)
            report = copy_studies(source, dest, [uid])
            assert report.ok and report.studies[0].copied == 6, report.problems()
            assert copy_studies(source, dest, [uid]).studies[0].already_present == 6
    assert held_bytes(clean_orthanc_dest, want) == want


def test_a_static_wado_source_fans_out_instance_by_instance(clean_orthanc, clean_orthanc_dest, study):
    uid, files, want = study
    whole = __import__("re").compile(r"^/dicomweb/studies/[0-9.]+(/series/[0-9.]+)?$")

    def gate(request):
        if request.method == "GET" and (whole.match(request.path) or request.path.endswith("/instances")):
            return 404, {"Content-Type": "text/html"}, b"<pre>Cannot GET</pre>"
        return None

    with OrthancFront(clean_orthanc, gate) as front, orthanc_client(clean_orthanc_dest) as dest:
        orthanc_client(clean_orthanc).store_instances(files)
        source = DicomWebClient.from_url(front.dicomweb_url, server="static-wado", **FAST_RETRY_EXTRAS)
        report = copy_studies(source, dest, [uid])
        assert report.ok and report.studies[0].copied == 6, report.problems()
        assert report.studies[0].source_instances == 6  # listed from the series metadata
        assert not [r for r in front.requests if r.method == "GET" and whole.match(r.path)]
    assert held_bytes(clean_orthanc_dest, want) == want


def test_a_destination_that_drops_an_acknowledged_instance_is_caught(
    clean_orthanc, clean_orthanc_dest, study
):
    uid, files, _ = study
    dropped: list[str] = []
    once = threading.Lock()

    def gate(request):
        if request.method != "POST":
            return None
        status, headers, body = front._forward(request)
        with once:
            if dropped or status != 200:
                return status, headers, body
            # acknowledged: now quietly lose the first instance of it
            answer = json.loads(body)
            sop = answer["00081199"]["Value"][0]["00081155"]["Value"][0]
            found = clean_orthanc_dest.rest("POST", "/tools/lookup", data=sop).json()
            clean_orthanc_dest.rest("DELETE", f"/instances/{found[0]['ID']}")
            dropped.append(sop)
        return status, headers, body

    with OrthancFront(clean_orthanc_dest, gate) as front, orthanc_client(clean_orthanc) as source:
        source.store_instances(files)
        dest = DicomWebClient.from_url(
            front.dicomweb_url,
            login=clean_orthanc_dest.username,
            password=clean_orthanc_dest.password,
            **FAST_RETRY_EXTRAS,
        )
        report = copy_studies(source, dest, [uid])
    (entry,) = report.studies
    assert not report.ok and entry.copied == 6 and entry.failed == 0
    assert [name.rsplit("/", 1)[1] for name in entry.missing_after_verify] == dropped
    assert dropped[0] in "\n".join(report.problems())


def test_an_unknown_study_is_named_and_the_next_one_is_copied(clean_orthanc, clean_orthanc_dest, study):
    uid, files, _ = study
    unknown = generate_uid()
    with orthanc_client(clean_orthanc) as source, orthanc_client(clean_orthanc_dest) as dest:
        source.store_instances(files)
        report = copy_studies(source, dest, [unknown, uid])
    assert [s.ok for s in report.studies] == [False, True]
    assert "not found on the source" in report.studies[0].error and unknown in report.problems()[0]


def test_a_transfer_syntax_the_destination_does_not_take_is_named_per_instance(
    clean_orthanc, clean_orthanc_dest, study, monkeypatch
):
    uid, files, _ = study
    with orthanc_client(clean_orthanc) as source, orthanc_client(clean_orthanc_dest) as dest:
        source.store_instances(files)
        refusing = ServerProfile(
            name="refuses-all", stow_transfer_syntaxes=frozenset({"1.2.840.10008.1.2.4.90"})
        )
        monkeypatch.setattr(dest.transactions.store, "profile", refusing)
        report = copy_studies(source, dest, [uid])
    (entry,) = report.studies
    assert entry.failed == 6 and entry.copied == 0 and not report.ok
    assert all("does not take transfer syntax" in o.reason for o in entry.failures)
    assert clean_orthanc_dest.count_instances() == 0


def test_a_wrong_destination_password_stops_at_once_and_is_never_shown(
    clean_orthanc, clean_orthanc_dest, study
):
    uid, files, _ = study
    wrong = "not-the-password-91c2"
    with orthanc_client(clean_orthanc) as source:
        source.store_instances(files)
        dest = DicomWebClient.from_url(
            clean_orthanc_dest.dicomweb_url,
            login=clean_orthanc_dest.username,
            password=wrong,
            **FAST_RETRY_EXTRAS,
        )
        with pytest.raises(DicomWebAuthError, match=r"the destination: .* refused the credentials") as raised:
            copy_studies(source, dest, [uid])
    assert wrong not in str(raised.value)
    assert clean_orthanc_dest.count_instances() == 0


def test_the_same_service_on_both_sides_is_refused(clean_orthanc):
    with orthanc_client(clean_orthanc) as a, DicomWebClient.from_url(clean_orthanc.dicomweb_url + "/") as b:
        with pytest.raises(DicomWebConfigError, match="the same service"):
            copy_studies(a, b, [generate_uid()])


def test_filters_select_the_studies_of_the_source(clean_orthanc, clean_orthanc_dest, tmp_path):
    studies = [generate_uid() for _ in range(3)]
    with orthanc_client(clean_orthanc) as source, orthanc_client(clean_orthanc_dest) as dest:
        for i, uid in enumerate(studies):
            source.store_instances(
                make_series(tmp_path / str(i), 2, study_uid=uid, modality="MR" if i else "CT")
            )
        report = copy_studies(source, dest, filters={"ModalitiesInStudy": "MR"})
    assert sorted(s.study_instance_uid for s in report.studies) == sorted(studies[1:])
    assert report.ok and report.totals()["copied"] == 4


def test_a_source_that_answers_with_another_studys_instances_sends_none_of_them(
    clean_orthanc, clean_orthanc_dest, study, tmp_path
):
    """A hostile (or confused) source: asked for the series of one study, it answers with every instance of
    another. Each part is named as not what was asked for and nothing of the other study reaches the
    destination; the verification names every instance of the study asked for as missing."""
    uid, files, _ = study
    other = generate_uid()
    with orthanc_client(clean_orthanc) as client:
        client.store_instances(files)
        client.store_instances(make_series(tmp_path / "other", 2, study_uid=other, rows=8, columns=8))

    def gate(request):
        series_level = request.path.startswith(f"/dicomweb/studies/{uid}/series/")
        if (
            request.method == "GET"
            and series_level
            and not request.path.endswith(("/instances", "/metadata"))
        ):
            return front._forward(replace(request, path=f"/dicomweb/studies/{other}"))
        return None

    with OrthancFront(clean_orthanc, gate) as front, orthanc_client(clean_orthanc_dest) as dest:
        source = DicomWebClient.from_url(front.dicomweb_url, **FAST_RETRY_EXTRAS)
        report = copy_studies(source, dest, [uid])
    (entry,) = report.studies
    assert not report.ok and entry.copied == 0 and clean_orthanc_dest.count_instances() == 0
    assert entry.failures and all(f"{other}, but {uid} was asked for" in o.reason for o in entry.failures)
    assert len(entry.missing_after_verify) == 6


def test_a_destination_that_refuses_every_instance_with_its_reason_gets_each_named(
    clean_orthanc, clean_orthanc_dest, study
):
    """Every STOW-RS answered 409 with each instance in the FailedSOPSequence (0xA700, out of resources):
    each instance is failed with the destination's reason, and the copy is not whole."""
    uid, files, want = study

    def gate(request):
        if request.method != "POST":
            return None
        failed = [
            {"00081155": {"vr": "UI", "Value": [sop]}, "00081197": {"vr": "US", "Value": [0xA700]}}
            for sop in want
            if sop.encode() in request.body
        ]
        body = json.dumps({"00081198": {"vr": "SQ", "Value": failed}}).encode()
        return 409, {"Content-Type": "application/dicom+json"}, body

    with OrthancFront(clean_orthanc_dest, gate) as front, orthanc_client(clean_orthanc) as source:
        source.store_instances(files)
        dest = DicomWebClient.from_url(front.dicomweb_url, **FAST_RETRY_EXTRAS)
        report = copy_studies(source, dest, [uid])
    (entry,) = report.studies
    assert (entry.copied, entry.failed) == (0, 6) and not report.ok
    assert {o.sop_instance_uid for o in entry.failures} == set(want)
    assert all("refused by the server" in o.reason and o.failure_reason == 0xA700 for o in entry.failures)
    assert clean_orthanc_dest.count_instances() == 0

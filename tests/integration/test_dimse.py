"""DIMSE against peers no one here wrote: Orthanc's DICOM server (C-ECHO, C-FIND, C-GET, C-STORE SCP) and
dcmtk's storescp (a C-STORE SCP that answers no C-FIND). C-FIND answers in QIDO-RS's shape; C-GET writes
files atomically; C-STORE names every file's outcome, and a transfer syntax the peer refuses is a named
failure, never re-encoded; a wrong AE title, an unreachable peer and an unknown study are named."""

from __future__ import annotations

import pydicom
import pytest
from pydicom.uid import generate_uid

from airflow_dicomweb.core.client import DicomWebClient
from airflow_dicomweb.core.dimse.echo import echo
from airflow_dicomweb.core.dimse.find import find
from airflow_dicomweb.core.dimse.get import get
from airflow_dicomweb.core.dimse.peer import DimsePeer
from airflow_dicomweb.core.dimse.store import store_files
from airflow_dicomweb.core.errors import DicomWebConfigError, DimseAssociationError, DimseError
from tests.servers.dcmtk import DcmtkMissing
from tests.servers.orthanc_server import free_port


def sop(path) -> str:
    return str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)


def test_echo_store_find_and_get_against_orthanc(orthanc_peer, orthanc_dimse, dimse_study, tmp_path):
    uid, files = dimse_study
    echo(orthanc_peer)
    stored = store_files(orthanc_peer, files)
    assert len(stored.stored) == 6 and not stored.failed, str(stored)
    assert orthanc_dimse.sop_instance_uids() == {sop(f) for f in files}

    # C-FIND answers what QIDO-RS answers, for the same study on the same server
    with DicomWebClient.from_url(
        orthanc_dimse.dicomweb_url, login=orthanc_dimse.username, password=orthanc_dimse.password
    ) as web:
        qido_series = {s["0020000E"]["Value"][0] for s in web.search_for_series(uid)}
    found = list(find(orthanc_peer, "series", study_instance_uid=uid))
    assert {s["0020000E"]["Value"][0] for s in found} == qido_series
    assert all(s["0020000D"]["Value"] == [uid] for s in found)
    assert [
        s["0020000D"]["Value"][0] for s in find(orthanc_peer, "studies", filters={"ModalitiesInStudy": "MR"})
    ] == [uid]
    instances = list(find(orthanc_peer, "instances", study_instance_uid=uid))
    assert {i["00080018"]["Value"][0] for i in instances} == {sop(f) for f in files}
    assert len(list(find(orthanc_peer, "instances", study_instance_uid=uid, limit=2))) == 2

    result = get(orthanc_peer, tmp_path / "out", uid)
    assert result.ok and result.completed == 6 and len(result.paths) == 6
    by_sop = {sop(p): p for p in result.paths}
    for f in files:
        original, received = pydicom.dcmread(f), pydicom.dcmread(by_sop[sop(f)])
        # a context per SOP class and transfer syntax: Orthanc sends each as stored, the JPEG too
        assert received.file_meta.TransferSyntaxUID == original.file_meta.TransferSyntaxUID
        assert received.PixelData == original.PixelData  # identical
    assert sorted(p.relative_to(tmp_path / "out").parts[0] for p in result.paths) == [uid] * 6

    one = get(
        orthanc_peer,
        tmp_path / "one",
        uid,
        sop_instance_uid=sop(files[0]),
        series_instance_uid=str(pydicom.dcmread(files[0]).SeriesInstanceUID),
    )
    assert [sop(p) for p in one.paths] == [sop(files[0])]


def test_c_store_to_storescp_names_a_transfer_syntax_it_refuses(storescp, dimse_study):
    _, files = dimse_study
    peer = DimsePeer("127.0.0.1", storescp.port, storescp.aet)
    echo(peer)
    result = store_files(peer, files)
    assert len(result.stored) == 5 and len(storescp.received()) == 5
    (refused,) = result.failed
    assert refused.sop_instance_uid == sop(files[-1])
    assert "accepts no presentation context" in refused.reason and "1.2.840.10008.1.2.4.50" in refused.reason
    with pytest.raises(DimseError, match=r"accepts none of the presentation contexts proposed \(Study Root"):
        list(find(peer, "studies"))  # storescp answers no C-FIND


def test_bad_peers_and_bad_input_are_named(orthanc_peer, dimse_study, tmp_path):
    uid, files = dimse_study
    wrong = DimsePeer("127.0.0.1", orthanc_peer.port, "NOT-ORTHANC")
    with pytest.raises(DimseAssociationError) as rejected:
        echo(wrong)
    # Orthanc sends its A-ASSOCIATE-RJ and closes at once: the reason is named when it is read first
    assert "NOT-ORTHANC@127.0.0.1" in str(rejected.value)
    assert "rejected the association from DICOMWEB: called AE title not recognized" in str(
        rejected.value
    ) or "check them" in str(rejected.value)
    nobody = DimsePeer("127.0.0.1", free_port(), "NOBODY", acse_timeout=5)
    with pytest.raises(DimseAssociationError, match=r"NOBODY@127\.0\.0\.1:[0-9]+ could not be reached"):
        echo(nobody)
    stranger = DimsePeer("127.0.0.1", orthanc_peer.port, "ORTHANC", calling_aet="STRANGER")
    with pytest.raises(DimseError, match="STRANGER"):
        list(find(stranger, "studies"))
    with pytest.raises(DimseError, match=rf"study .*{uid}"):
        get(orthanc_peer, tmp_path / "none", uid)  # nothing stored yet
    (tmp_path / "junk.dcm").write_text("not DICOM")
    result = store_files(orthanc_peer, [tmp_path / "junk.dcm", files[0]])
    assert len(result.stored) == 1 and "junk.dcm" in result.failed[0].path
    for bad in ("dimse://host:104", "http://AE@host:104", "dimse://AE@host", "dimse://A:B@host:104"):
        with pytest.raises(DicomWebConfigError, match="dimse://CALLED_AET@host:port"):
            DimsePeer.from_url(bad)
    with pytest.raises(DicomWebConfigError, match="AE title"):
        DimsePeer("127.0.0.1", 104, "A" * 17)
    assert DimsePeer.from_url("dimse://PACS@10.0.0.5:11112").name == "PACS@10.0.0.5:11112"


def test_a_study_copied_from_orthancs_dimse_port_into_a_dicomweb_store_and_on_to_storescp(
    orthanc_peer, orthanc_dimse, clean_orthanc, storescp, dimse_study
):
    """Done when: a study from a DIMSE-only archive (C-FIND to list, C-GET to fetch) into a DICOMweb store,
    its pixel data identical, a re-run sending nothing; and from a DICOMweb store to dcmtk's storescp, which
    answers no C-FIND: every instance sent, the report saying nothing could be verified."""
    from airflow_dicomweb.core.copy.copy import copy_studies

    uid, files = dimse_study
    uncompressed = files[:-1]  # storescp here takes uncompressed syntaxes only
    assert not store_files(orthanc_peer, uncompressed).failed
    with DicomWebClient.from_url(
        clean_orthanc.dicomweb_url, login=clean_orthanc.username, password=clean_orthanc.password
    ) as web:
        report = copy_studies(orthanc_peer, web, [uid])
        (entry,) = report.studies
        assert report.ok and entry.copied == 5 and entry.verification == "verified", report.problems()
        assert entry.source_instances == 5 and entry.destination_instances == 5
        for f in uncompressed:
            held = pydicom.dcmread(__import__("io").BytesIO(clean_orthanc.instance_bytes(sop(f))))
            assert held.PixelData == pydicom.dcmread(f).PixelData
        again = copy_studies(orthanc_peer, web, [uid])
        assert again.studies[0].copied == 0 and again.studies[0].already_present == 5

        out = copy_studies(web, DimsePeer("127.0.0.1", storescp.port, storescp.aet), [uid])
    (sent,) = out.studies
    assert sent.copied == 5 and not sent.failures and len(storescp.received()) == 5
    assert sent.verification.startswith("not possible")
    assert {sop(p) for p in storescp.received()} == {sop(f) for f in uncompressed}


def test_a_copy_names_what_a_dimse_source_does_not_hold(orthanc_peer, clean_orthanc):
    from airflow_dicomweb.core.copy.copy import copy_studies

    unknown = generate_uid()
    with DicomWebClient.from_url(
        clean_orthanc.dicomweb_url, login=clean_orthanc.username, password=clean_orthanc.password
    ) as web:
        report = copy_studies(orthanc_peer, web, [unknown])
    assert not report.ok and "not found on the source" in report.studies[0].error


def test_the_command_line_copies_from_and_to_dimse_peers(orthanc_peer, clean_orthanc, storescp, dimse_study):
    import os
    import subprocess
    import sys

    uid, files = dimse_study
    assert not store_files(orthanc_peer, files[:-1]).failed
    env = {k: v for k, v in os.environ.items() if not k.startswith("DICOMWEB_")}

    def dicomweb(*args: str, **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "airflow_dicomweb.cli", "--retries", "1", *args],
            capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL, env={**env, **extra},
        )  # fmt: skip

    dimse_url = f"dimse://ORTHANC@127.0.0.1:{orthanc_peer.port}"
    inbound = dicomweb(
        dimse_url, "copy", "--to-user", clean_orthanc.username, clean_orthanc.dicomweb_url, uid,
        DICOMWEB_TO_PASSWORD=clean_orthanc.password,
    )  # fmt: skip
    assert inbound.returncode == 0, inbound.stderr
    assert "5 instances copied" in inbound.stdout and clean_orthanc.count_instances() == 5
    outbound = dicomweb(
        "--user", clean_orthanc.username, clean_orthanc.dicomweb_url, "copy",
        f"dimse://{storescp.aet}@127.0.0.1:{storescp.port}", uid, DICOMWEB_PASSWORD=clean_orthanc.password,
    )  # fmt: skip
    assert outbound.returncode == 0, outbound.stderr
    assert len(storescp.received()) == 5
    unknown = dicomweb(dimse_url, "copy", f"dimse://{storescp.aet}@127.0.0.1:{storescp.port}", generate_uid())
    assert unknown.returncode == 1 and "not found on the source" in unknown.stderr
    wrong = dicomweb(
        f"dimse://NOT-ORTHANC@127.0.0.1:{orthanc_peer.port}", "copy", "http://127.0.0.1:9/x", uid
    )
    assert wrong.returncode == 3 and "NOT-ORTHANC@127.0.0.1" in wrong.stderr
    assert (
        "rejected the association" in wrong.stderr or "check them" in wrong.stderr
    )  # Orthanc closes at once


def test_c_move_to_the_built_in_storage_scp(orthanc_peer, orthanc_dimse, dimse_study, tmp_path):
    """C-MOVE: Orthanc sends the study to this side's AE title (DICOMWEB, which it knows with a port), where
    a storage SCP listens while the move runs. Every instance arrives, checked and written atomically; a
    move destination the peer does not know is named."""
    from airflow_dicomweb.core.dimse.move import move

    uid, files = dimse_study
    assert not store_files(orthanc_peer, files).failed
    result = move(
        orthanc_peer, tmp_path / "moved", uid, listen_port=orthanc_dimse.move_port, listen_host="127.0.0.1"
    )
    assert result.ok and result.completed == 6 and len(result.paths) == 6
    by_sop = {sop(p): p for p in result.paths}
    for f in files:
        original, received = pydicom.dcmread(f), pydicom.dcmread(by_sop[sop(f)])
        assert received.file_meta.TransferSyntaxUID == original.file_meta.TransferSyntaxUID
        assert received.PixelData == original.PixelData  # C-MOVE keeps the stored syntax, JPEG included
    stranger = DimsePeer("127.0.0.1", orthanc_peer.port, "ORTHANC", calling_aet="STRANGER")
    with pytest.raises(DimseError, match="STRANGER"):
        move(stranger, tmp_path / "none", uid, listen_port=free_port(), listen_host="127.0.0.1")


def test_dcmqrscp_as_a_second_archive_copied_to_orthanc_over_dimse_both_ways(
    orthanc_peer, orthanc_dimse, dimse_study, tmp_path
):
    """dcmtk's dcmqrscp, a query/retrieve archive no one here wrote: C-STORE into it, C-FIND, C-GET and
    C-MOVE from it; then a copy from it to Orthanc's DICOM port, DIMSE on both sides (C-FIND before and after
    on Orthanc), and a re-run that sends nothing."""
    from airflow_dicomweb.core.copy.copy import copy_studies
    from airflow_dicomweb.core.dimse.move import move
    from tests.servers.dcmtk import DcmQrScp

    uid, files = dimse_study
    uncompressed = files[:-1]
    try:
        archive = DcmQrScp()
    except DcmtkMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    with archive:
        peer = DimsePeer("127.0.0.1", archive.port, archive.aet)
        assert len(store_files(peer, uncompressed).stored) == 5
        assert {i["00080018"]["Value"][0] for i in find(peer, "instances", study_instance_uid=uid)} == {
            sop(f) for f in uncompressed
        }
        assert len(get(peer, tmp_path / "got", uid).paths) == 5
        assert (
            len(
                move(
                    peer, tmp_path / "moved", uid, listen_port=archive.move_port, listen_host="127.0.0.1"
                ).paths
            )
            == 5
        )
        report = copy_studies(peer, orthanc_peer, [uid])
        (entry,) = report.studies
        assert report.ok and entry.copied == 5 and entry.verification == "verified", report.problems()
        assert orthanc_dimse.sop_instance_uids() == {sop(f) for f in uncompressed}
        assert copy_studies(peer, orthanc_peer, [uid]).studies[0].already_present == 5

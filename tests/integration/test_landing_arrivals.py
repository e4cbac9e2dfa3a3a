"""The landing source of study arrivals: a study the DIMSE gateway writes into its landing folder in two
bursts is announced once, after it settled, with its count; announced again (an update) when it grows; what
was there at the first poll is the baseline; filters are matched against the files' attributes."""

from __future__ import annotations

import datetime as dt

from pydicom.uid import generate_uid

from airflow_dicomweb.core.arrivals import source_for
from airflow_dicomweb.core.arrivals.landing import LandingCursor, LandingIndex, poll_landing
from airflow_dicomweb.core.arrivals.source import WatchOptions
from airflow_dicomweb.core.client import DicomWebClient
from airflow_dicomweb.core.dimse.peer import DimsePeer
from airflow_dicomweb.core.dimse.receiver import Receiver
from airflow_dicomweb.core.dimse.store import store_files
from tests.dicom_factory import make_series
from tests.servers.orthanc_server import free_port

T0 = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def test_a_study_landed_in_bursts_by_the_gateway_is_announced_once_settled(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    old = generate_uid()
    make_series(landing / "seed", 1)  # a file outside the layout: ignored
    receiver = Receiver("GATEWAY", free_port(), host="127.0.0.1", landing=landing)
    receiver.start()
    try:
        peer = DimsePeer("127.0.0.1", receiver.port, "GATEWAY")
        store_files(peer, make_series(tmp_path / "old", 2, study_uid=old, rows=8, columns=8))
        options = WatchOptions(settle_seconds=30, filters={"ModalitiesInStudy": "MR"})
        events, cursor = poll_landing(LandingIndex(landing), LandingCursor(), now=at(0), options=options)
        assert events == [] and cursor.started  # the baseline: the old study is known, not announced

        study = generate_uid()
        store_files(peer, make_series(tmp_path / "a", 3, study_uid=study, rows=8, columns=8, modality="MR"))
        events, cursor = poll_landing(LandingIndex(landing), cursor, now=at(10), options=options)
        assert events == []  # seen, not settled
        store_files(peer, make_series(tmp_path / "b", 2, study_uid=study, rows=8, columns=8, modality="MR"))
        events, cursor = poll_landing(LandingIndex(landing), cursor, now=at(35), options=options)
        assert events == []  # it grew at 35 s: its clock starts again
        events, cursor = poll_landing(LandingIndex(landing), cursor, now=at(70), options=options)
        assert [(e["StudyInstanceUID"], e["NumberOfStudyRelatedInstances"], e["update"]) for e in events] == [
            (study, 5, False)
        ]
        assert events[0]["NumberOfStudyRelatedSeries"] == 2 and "PatientName" not in events[0]
        events, cursor = poll_landing(LandingIndex(landing), cursor, now=at(200), options=options)
        assert events == []  # announced once

        store_files(peer, make_series(tmp_path / "c", 1, study_uid=study, rows=8, columns=8, modality="MR"))
        ct = generate_uid()
        store_files(
            peer, make_series(tmp_path / "ct", 1, study_uid=ct, rows=8, columns=8)
        )  # not MR: filtered
        _, cursor = poll_landing(LandingIndex(landing), cursor, now=at(210), options=options)
        events, _ = poll_landing(LandingIndex(landing), cursor, now=at(260), options=options)
        assert [(e["StudyInstanceUID"], e["NumberOfStudyRelatedInstances"], e["update"]) for e in events] == [
            (study, 6, True)
        ]
    finally:
        receiver.stop()


def test_the_source_reads_its_landing_location_from_the_connection(tmp_path):
    client = DicomWebClient.from_url("http://127.0.0.1:9/dicom-web", landing_path=str(tmp_path))
    source = source_for("landing", client)
    uid = generate_uid()
    make_series(tmp_path / uid / "1.2.3", 2, study_uid=uid, series_uid="1.2.3")
    for f in (tmp_path / uid / "1.2.3").iterdir():  # the gateway's layout: {study}/{series}/{sop}.dcm
        f.rename(f.with_name(f"{generate_uid()}.dcm"))
    options = WatchOptions(settle_seconds=0, announce_existing=True)
    events, cursor = source.poll(source.new_cursor(), options, at(0))
    assert [e["StudyInstanceUID"] for e in events] == [uid] and events[0][
        "NumberOfStudyRelatedInstances"
    ] == 2
    assert source.cursor_from_json(cursor.to_json()).ledger.studies[uid].announced == 2
    assert "landing" in source.baseline(cursor, options)

"""Shared fixtures: Airflow set up in a temporary home, a real Orthanc, hooks and test data."""

from __future__ import annotations

import json
import os
import tempfile

_AIRFLOW_HOME = tempfile.mkdtemp(prefix="airflow-home-")
DAGS_FOLDER = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "dags")
os.environ["AIRFLOW_HOME"] = _AIRFLOW_HOME
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = DAGS_FOLDER
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")

import pytest  # noqa: E402
from pydicom.data import get_testdata_file  # noqa: E402

from tests.connections import (  # noqa: E402
    SAMPLE_FILES,
    google_connection,
    orthanc_connection,
)
from tests.servers.orthanc_server import OrthancMissing, OrthancServer  # noqa: E402


def running_orthanc(**config):
    """A real Orthanc with the DICOMweb plugin (and ``config``), started, and stopped at the end. Missing
    Orthanc fails the suite: it never skips."""
    try:
        server = OrthancServer(**config)
    except OrthancMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def orthanc():
    """A real Orthanc with the DICOMweb plugin."""
    yield from running_orthanc()


@pytest.fixture(scope="session")
def tiny_pacs():
    """A real tiny_pacs with its DICOMweb front-end. Missing, it fails the suite: it never skips."""
    from tests.servers.tiny_pacs_server import TinyPacsMissing, TinyPacsServer

    try:
        server = TinyPacsServer()
    except TinyPacsMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def orthanc_dest():
    """A second real Orthanc: the other archive of a copy between two services."""
    yield from running_orthanc()


@pytest.fixture(scope="session")
def orthanc_dimse():
    """A real Orthanc with its DICOM server on: C-ECHO, C-FIND, C-GET and C-STORE SCP, AE title ORTHANC,
    checking the called AE title, and knowing this side's AE title (DICOMWEB) as a modality, as it must to
    answer its C-FIND and C-GET."""
    from tests.servers.orthanc_server import free_port

    port, move_port = free_port(), free_port()
    for server in running_orthanc(
        DicomServerEnabled=True,
        DicomAet="ORTHANC",
        DicomPort=port,
        DicomCheckCalledAet=True,
        DicomModalities={"dicomweb": ["DICOMWEB", "127.0.0.1", move_port]},
    ):
        server.dicom_port = port
        server.move_port = move_port  # where it sends what a C-MOVE to DICOMWEB moves
        yield server


@pytest.fixture
def orthanc_peer(orthanc_dimse):
    """The Orthanc of ``orthanc_dimse`` as a DIMSE peer, emptied."""
    from airflow_dicomweb.core.dimse.peer import DimsePeer

    orthanc_dimse.wipe()
    return DimsePeer("127.0.0.1", orthanc_dimse.dicom_port, "ORTHANC")


@pytest.fixture
def storescp():
    """dcmtk's storescp taking uncompressed transfer syntaxes only. Missing dcmtk fails the suite."""
    from tests.servers.dcmtk import DcmtkMissing, StoreScp

    try:
        server = StoreScp(accept_all=False)  # uncompressed transfer syntaxes only
    except DcmtkMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    with server:
        yield server


@pytest.fixture
def dimse_study(tmp_path):
    """Two series of uncompressed CT and MR, and a JPEG Baseline Secondary Capture: its UID and files."""
    import pydicom
    from pydicom.uid import generate_uid

    from tests.dicom_factory import make_series

    uid = generate_uid()
    files = make_series(tmp_path / "ct", 3, study_uid=uid, rows=16, columns=16)
    files += make_series(tmp_path / "mr", 2, study_uid=uid, rows=16, columns=16, modality="MR")
    ds = pydicom.dcmread(get_testdata_file("SC_jpeg_no_color_transform.dcm"))
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID = uid, generate_uid(), generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.save_as(tmp_path / "jpeg.dcm")
    return uid, [*files, tmp_path / "jpeg.dcm"]


@pytest.fixture
def clean_orthanc_dest(orthanc_dest):
    orthanc_dest.wipe()
    return orthanc_dest


@pytest.fixture
def clean_orthanc(orthanc):
    orthanc.wipe()
    return orthanc


@pytest.fixture
def orthanc_conn_id(clean_orthanc, monkeypatch) -> str:
    """A ``dicomweb`` connection to the Orthanc, from ``AIRFLOW_CONN_*`` as a user would set it."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_DICOMWEB_ORTHANC", orthanc_connection(clean_orthanc, caret_as_wildcard=True)
    )
    return "dicomweb_orthanc"


@pytest.fixture
def orthanc_delete_conn_id(clean_orthanc, monkeypatch) -> str:
    """The same Orthanc, deleting through its REST API (``delete_api: orthanc``)."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_DICOMWEB_ORTHANC_DELETE", orthanc_connection(clean_orthanc, delete_api="orthanc")
    )
    return "dicomweb_orthanc_delete"


@pytest.fixture
def hook(orthanc_conn_id):
    from airflow_dicomweb.hooks.dicomweb import DicomWebHook

    h = DicomWebHook(orthanc_conn_id)
    yield h
    h.close()


@pytest.fixture(scope="session")
def samples() -> dict[str, str]:
    return {key: get_testdata_file(name) for key, name in SAMPLE_FILES.items()}


@pytest.fixture(scope="session")
def google_emulator(orthanc):
    """The Cloud Healthcare API test double (tests/emulators/google_emulator.py), backed by the real Orthanc."""
    from tests.emulators.google_emulator import GoogleEmulator

    with GoogleEmulator(orthanc) as emulator:
        yield emulator


@pytest.fixture
def google(google_emulator, clean_orthanc):
    """The emulator reset to its defaults, over an empty Orthanc."""
    g = google_emulator
    g.operation_delay = 0.3
    g.release_operations()
    g.fail_next_operation = None
    g.injected.clear()
    g.storage_classes.clear()
    g.requests.clear()
    return g


@pytest.fixture
def google_hook(google, monkeypatch):
    from airflow_dicomweb.hooks.google_store import GoogleDicomStoreHook

    monkeypatch.setenv("AIRFLOW_CONN_DICOMWEB_GOOGLE", google_connection(google))
    h = GoogleDicomStoreHook("dicomweb_google")
    yield h
    h.close()


@pytest.fixture(scope="session")
def airflow_db():
    """A migrated SQLite metadata database in the temporary AIRFLOW_HOME, for dag.test()."""
    from airflow.utils.db import resetdb

    resetdb()


@pytest.fixture(scope="session")
def dagbag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=DAGS_FOLDER)


@pytest.fixture(scope="session")
def moto_server():
    """A real S3 API (moto in server mode) on loopback. Missing moto fails the suite: it never skips."""
    from tests.servers.moto_server import MotoMissing, MotoServer

    try:
        server = MotoServer()
    except MotoMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def refusing_s3():
    """An S3 API that checks credentials and refuses every key: what a revoked or wrong key meets."""
    from tests.servers.moto_server import MotoMissing, MotoServer

    try:
        server = MotoServer(authenticate=True)
    except MotoMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def bucket(moto_server, monkeypatch) -> str:
    """A new, empty bucket, and the ``aws_moto`` connection to it; its ``s3://aws_moto@<bucket>`` URL."""
    import uuid

    import boto3

    monkeypatch.setenv("AIRFLOW_CONN_AWS_MOTO", json.dumps(moto_server.connection()))
    name = f"test-{uuid.uuid4().hex[:12]}"
    options = moto_server.storage_options()
    boto3.client(
        "s3",
        endpoint_url=moto_server.url,
        aws_access_key_id=options["key"],
        aws_secret_access_key=options["secret"],
        region_name="us-east-1",
    ).create_bucket(Bucket=name)
    return f"s3://aws_moto@{name}"

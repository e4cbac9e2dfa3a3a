"""Reading an instance's identity: one pass over its top-level elements with pydicom's public element reader,
no value loaded beyond a few KiB, and a file cut short refused."""

import tracemalloc
import warnings

import pydicom
import pytest
from pydicom.data import get_testdata_files

from airflow_dicomweb.core.dicom.instance_header import NotAnInstanceError, read_instance_header
from airflow_dicomweb.core.uids import is_valid_uid
from tests.dicom_factory import make_instance

#: pydicom's samples that were cut short on purpose.
TRUNCATED = {"MR_truncated.dcm", "rtplan_truncated.dcm", "emri_small_jpeg_2k_lossless_too_short.dcm"}
UIDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID")


def storable_by_pydicom(path: str) -> bool:
    """An independent verdict: pydicom reads the whole file and finds a Part 10 instance with valid UIDs."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ds = pydicom.dcmread(path)
        except Exception:
            return False
    meta = getattr(ds, "file_meta", None)
    return bool(getattr(meta, "TransferSyntaxUID", None)) and all(
        is_valid_uid(str(ds.get(k, "")).strip("\0 ")) for k in UIDS
    )


@pytest.mark.parametrize("path", sorted(get_testdata_files("**/*.dcm")), ids=lambda p: p.rsplit("/", 1)[-1])
def test_every_pydicom_sample_gets_the_right_verdict(path):
    name = path.rsplit("/", 1)[-1]
    expected = storable_by_pydicom(path) and name not in TRUNCATED
    try:
        header = read_instance_header(path)
    except NotAnInstanceError as exc:
        assert not expected, f"{name} refused: {exc}"
        if name in TRUNCATED:
            assert "truncated" in str(exc)
        return
    assert expected, f"{name} accepted"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path, stop_before_pixels=True)
    assert header.sop_instance_uid == str(ds.SOPInstanceUID) and header.study_instance_uid == str(
        ds.StudyInstanceUID
    )


def test_a_header_read_never_loads_the_pixel_data(tmp_path):
    path = make_instance(
        tmp_path / "big.dcm", study_uid="1.2.3", series_uid="1.2.3.4", rows=2048, columns=2048, frames=12
    )
    assert path.stat().st_size > 96 * 2**20
    tracemalloc.start()
    header = read_instance_header(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert header.study_instance_uid == "1.2.3"
    assert peak < 2 * 2**20, f"peak {peak / 2**20:.1f} MiB"


def test_a_big_file_cut_anywhere_in_its_pixel_data_is_refused(tmp_path):
    path = make_instance(tmp_path / "cut.dcm", study_uid="1.2.3", series_uid="1.2.3.4", rows=512, columns=512)
    data = path.read_bytes()
    for cut in (1, 2, 511, len(data) // 2):
        path.write_bytes(data[:-cut])
        with pytest.raises(NotAnInstanceError, match="truncated"):
            read_instance_header(path)

import glob
import os

import pydicom
from pydicom.data import get_testdata_file

from airflow_dicomweb.core.dicom.part10_uids import read_uids


def bundled_files():
    folders = {
        os.path.dirname(get_testdata_file("CT_small.dcm")),
        os.path.dirname(get_testdata_file("emri_small.dcm")),
    }
    return sorted(f for folder in folders for f in glob.glob(os.path.join(folder, "*.dcm")))


def test_the_fast_path_agrees_with_pydicom_on_every_file_it_accepts():
    accepted = 0
    for path in bundled_files():
        with open(path, "rb") as handle:
            fast = read_uids(handle.read(65536))
        if fast is None:
            continue  # the caller falls back to pydicom
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        assert fast.pop("TransferSyntaxUID") == str(ds.file_meta.TransferSyntaxUID), path
        assert fast == {k: str(ds[k].value) for k in fast}, path
        assert set(fast) == {"StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID"}
        accepted += 1
    assert accepted >= 50  # explicit and implicit little endian, compressed syntaxes


def test_unusual_inputs_fall_back():
    assert read_uids(b"") is None
    assert read_uids(b"\0" * 128 + b"NOPE" + b"\0" * 100) is None
    with open(get_testdata_file("CT_small.dcm"), "rb") as handle:
        data = handle.read()
    assert read_uids(data[:400]) is None  # the UIDs are past the bytes given
    assert read_uids(data)["SOPInstanceUID"] == "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322"

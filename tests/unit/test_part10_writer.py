"""The de-identified instance's writer gives the bytes pydicom's ``dcmwrite`` gives for the same data set,
in every transfer syntax family (explicit and implicit VR, big endian, encapsulated pixel data, no File
Meta Information read), while writing the attributes still as read from their bytes and the pixel data
without copying it."""

from __future__ import annotations

from io import BytesIO

import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import dcmwrite, write_file_meta_info
from pydicom.uid import UID

from airflow_dicomweb.core.deid.part10_writer import file_meta_bytes, write_part10

FILES = (
    "CT_small.dcm",  # explicit VR little endian
    "MR_small_implicit.dcm",  # implicit VR
    "MR_small_bigendian.dcm",  # explicit VR big endian
    "JPEG2000.dcm",  # encapsulated pixel data, undefined length
    "rtstruct.dcm",  # nested sequences, no pixel data
    "ExplVR_LitEndNoMeta.dcm",  # no File Meta Information in the input
)


def as_deidentifier_leaves_it(name: str):
    ds = dcmread(get_testdata_file(name), force=True)
    old = getattr(ds, "file_meta", None) or FileMetaDataset()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = old.get("TransferSyntaxUID") or UID("1.2.840.10008.1.2.1")
    meta.ImplementationClassUID = UID("1.2.826.0.1.3680043.10.1532.2")
    meta.ImplementationVersionName = "AIRFLOW_DICOMWEB"
    ds.file_meta = meta
    ds.PatientName = "REPLACED^"  # one element decoded and changed, as the profile leaves some
    ds.preamble = b"\x00" * 128  # the writer zeroes it (an input's may hold a TIFF header)
    return ds


@pytest.mark.parametrize("name", FILES)
def test_the_same_bytes_as_dcmwrite(name):
    def leaves(name):
        ds = as_deidentifier_leaves_it(name)
        if 0xFFFCFFFC in ds:
            del ds[0xFFFCFFFC]  # trailing padding: the profile removes it
        return ds

    expected = BytesIO()
    dcmwrite(expected, leaves(name), enforce_file_format=True)
    chunks, searchable = write_part10(leaves(name))
    assert searchable
    assert b"".join(chunks) == expected.getvalue()
    if "PixelData" in dcmread(get_testdata_file(name), force=True):
        assert len(chunks) > 1 and b"REPLACED" in chunks[0]  # the attributes first, the pixel data after


@pytest.mark.parametrize("name", ("rtstruct.dcm", "CT_small.dcm", "MR_small_implicit.dcm", "rtplan.dcm"))
def test_the_same_bytes_as_dcmwrite_with_sequences_decoded_and_changed(name):
    """As the profile leaves them: every sequence decoded (walked into), the elements of its items still as
    read, one changed, and a new sequence added."""

    def leaves(name):
        ds = as_deidentifier_leaves_it(name)
        if 0xFFFCFFFC in ds:
            del ds[0xFFFCFFFC]

        def walk(dataset):
            for tag in list(dataset.keys()):
                elem = dataset.get_item(tag)
                if elem.VR == "SQ" or (elem.VR is None and dataset[tag].VR == "SQ"):
                    for item in dataset[tag].value:
                        if "ReferencedSOPInstanceUID" in item:
                            item.ReferencedSOPInstanceUID = "2.25.1"
                        walk(item)

        walk(ds)
        code = Dataset()
        code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "113100", "DCM", "Basic"
        ds.DeidentificationMethodCodeSequence = [code]
        return ds

    expected = BytesIO()
    dcmwrite(expected, leaves(name), enforce_file_format=True)
    chunks, _ = write_part10(leaves(name))
    assert b"".join(chunks) == expected.getvalue()


def test_an_attribute_after_the_pixel_data_keeps_the_tag_order():
    expected = BytesIO()
    dcmwrite(expected, as_deidentifier_leaves_it("CT_small.dcm"), enforce_file_format=True)
    chunks, searchable = write_part10(as_deidentifier_leaves_it("CT_small.dcm"))  # (FFFC,FFFC) after it
    assert not searchable and b"".join(chunks) == expected.getvalue()


def test_the_file_meta_information_as_pydicom_writes_it():
    meta = as_deidentifier_leaves_it("CT_small.dcm").file_meta
    expected = DicomBytesIO()
    write_file_meta_info(expected, meta, enforce_standard=True)
    assert file_meta_bytes(as_deidentifier_leaves_it("CT_small.dcm").file_meta) == expected.getvalue()
    del meta.MediaStorageSOPInstanceUID
    with pytest.raises(ValueError, match="MediaStorageSOPInstanceUID"):
        file_meta_bytes(meta)

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


CHARSETS = (None, "ISO_IR 100", "ISO_IR 192", ["", "ISO 2022 IR 87"], "ISO_IR 13", "GB18030")
#: Decoded string elements as the profile leaves them: new UIDs, dummies, pseudonyms, emptied values, some
#: non-ASCII (written by pydicom), multi-valued, odd and even lengths, and a long text.
STRINGS = (
    ("StudyInstanceUID", "UI", "2.25.123"),
    ("SOPClassUID", "UI", "1.2.840.10008.5.1.4.1.1.2"),
    ("ReferencedSOPClassUIDInFile", "UI", ""),
    ("RetrieveAETitle", "AE", ["AE1", "AE22"]),
    ("PatientAge", "AS", "040Y"),
    ("ImageType", "CS", ["ORIGINAL", "PRIMARY", "AXIAL"]),
    ("StudyDate", "DA", "20260101"),
    ("AcquisitionDateTime", "DT", "20260101120000.5"),
    ("StudyTime", "TM", "1200"),
    ("PatientID", "LO", "PSEUDONYM1"),
    ("InstitutionName", "LO", "Hôpital Saint-Éloi"),
    ("AccessionNumber", "SH", "X"),
    ("StudyDescription", "LO", None),
    ("ImageComments", "LT", "a comment, odd"),
    ("DerivationDescription", "ST", "Ωμέγα"),
    ("TextValue", "UT", "long " * 20000),
    ("StrainAdditionalInformation", "UT", ""),
    ("RetrieveURL", "UR", "https://example.org/odd"),
    ("PatientComments", "LT", ["", ""]),
)


@pytest.mark.filterwarnings("ignore:Failed to encode value")  # pydicom's, on the values it cannot encode
@pytest.mark.parametrize("implicit", (False, True), ids=("explicit", "implicit"))
@pytest.mark.parametrize("charset", CHARSETS, ids=str)
def test_ascii_strings_are_written_as_pydicom_writes_them(charset, implicit, monkeypatch):
    """The strings the profile puts in are written without pydicom, byte for byte as ``dcmwrite`` writes
    them, in every character set; what is not ASCII (or a character set that escapes ASCII) is pydicom's."""

    source = as_deidentifier_leaves_it("CT_small.dcm")  # read in its character set, as an input is
    del source.PixelData
    if implicit:
        source.file_meta.TransferSyntaxUID = UID("1.2.840.10008.1.2")
    if charset is not None:
        source.SpecificCharacterSet = charset
    elif "SpecificCharacterSet" in source:
        del source.SpecificCharacterSet
    written = BytesIO()
    dcmwrite(written, source, enforce_file_format=True)

    def leaves():
        ds = dcmread(BytesIO(written.getvalue()))
        for keyword, vr, value in STRINGS:
            ds.add_new(keyword, vr, value)
        return ds

    expected = BytesIO()
    dcmwrite(expected, leaves(), enforce_file_format=True)
    from airflow_dicomweb.core.deid import part10_writer

    by_pydicom: list[str] = []
    real = part10_writer.write_data_element

    def counted(fp, elem, encodings=None):
        by_pydicom.append(elem.keyword)
        real(fp, elem, encodings)

    monkeypatch.setattr(part10_writer, "write_data_element", counted)
    chunks, _ = write_part10(leaves())
    assert b"".join(chunks) == expected.getvalue()
    assert not {"StudyInstanceUID", "ImageType", "StudyDate", "RetrieveURL"} & set(by_pydicom)
    assert {"InstitutionName", "DerivationDescription"} <= set(by_pydicom)  # not ASCII
    keeps_ascii = charset not in ("ISO_IR 13", "GB18030")  # written by pydicom, to be safe
    assert ("PatientID" in by_pydicom) is not keeps_ascii

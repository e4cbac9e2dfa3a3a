"""Every instance this project makes of a JPEG is a conformant Secondary Capture Image: dciodvfy (Debian's
dicom3tools) reports no error, whatever the JPEG (grayscale, 4:4:4, 4:2:2, 4:2:0) and however little
metadata the user gave (only UIDs, a name and an ID), as built here and as the real Orthanc stores it."""

import io
import json

import pytest
from PIL import Image
from pydicom.uid import generate_uid

from airflow_dicomweb.core.client import DicomWebClient
from airflow_dicomweb.core.dicom.jpeg_instances import build_part10, instance_metadata, read_jpeg_info
from tests.dciodvfy import dciodvfy_errors

KINDS = {
    "grayscale": ("L", 0, "MONOCHROME2"),
    "4:4:4": ("RGB", 0, "YBR_FULL_422"),  # not YBR_FULL: dciodvfy and highdicom refuse it for JPEG
    "4:2:2": ("RGB", 1, "YBR_FULL_422"),
    "4:2:0": ("RGB", 2, "YBR_FULL_422"),
}


def validate(data: bytes, tmp_path) -> list[str]:
    """dciodvfy's errors for an instance (warnings are kept out)."""
    path = tmp_path / f"{generate_uid()}.dcm"
    path.write_bytes(data)
    return dciodvfy_errors(path)


def jpeg(mode: str, subsampling: int) -> bytes:
    image = Image.new(mode, (96, 64), 128 if mode == "L" else (200, 80, 40))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90, subsampling=subsampling)
    return buffer.getvalue()


def minimal_metadata(name: str = "DOE^JANE") -> dict:
    return {
        "0020000D": {"vr": "UI", "Value": [generate_uid()]},
        "0020000E": {"vr": "UI", "Value": [generate_uid()]},
        "00080018": {"vr": "UI", "Value": [generate_uid()]},
        "00100010": {"vr": "PN", "Value": [{"Alphabetic": name}]},
        "00100020": {"vr": "LO", "Value": ["ID-1"]},
    }


@pytest.mark.parametrize("kind", list(KINDS))
def test_an_instance_built_from_a_jpeg_and_minimal_metadata_validates(kind, tmp_path):
    mode, subsampling, photometric = KINDS[kind]
    data = jpeg(mode, subsampling)
    info = read_jpeg_info(data)
    assert info.photometric_interpretation == photometric
    instance = build_part10(instance_metadata(minimal_metadata(), info, "x"), data)
    assert validate(instance, tmp_path) == []


def test_a_name_beyond_ascii_gets_its_character_set_and_validates(tmp_path):
    data = jpeg("RGB", 2)
    md = instance_metadata(minimal_metadata("MÜLLER^JÖRG"), read_jpeg_info(data), "x")
    assert md["00080005"]["Value"] == ["ISO_IR 192"]
    assert validate(build_part10(md, data), tmp_path) == []


def test_what_the_user_gives_wins_over_the_defaults(tmp_path):
    data = jpeg("RGB", 1)
    given = {
        **minimal_metadata(),
        "00080060": {"vr": "CS", "Value": ["XC"]},
        "00080064": {"vr": "CS", "Value": ["DI"]},
    }
    md = instance_metadata(given, read_jpeg_info(data), "x")
    assert md["00080060"]["Value"] == ["XC"] and md["00080064"]["Value"] == ["DI"]
    assert validate(build_part10(md, data), tmp_path) == []


def test_the_instances_orthanc_stores_and_returns_validate_too(clean_orthanc, tmp_path):
    jpegs = []
    for n, (mode, subsampling, _) in enumerate(KINDS.values()):
        path = tmp_path / f"{n}.jpg"
        path.write_bytes(jpeg(mode, subsampling))
        jpegs.append(path)
    template = {k: v for k, v in minimal_metadata().items() if k != "00080018"}
    client = DicomWebClient.from_url(
        clean_orthanc.dicomweb_url, login=clean_orthanc.username, password=clean_orthanc.password
    )
    result = client.store_jpeg_instances(jpegs, template)
    assert result.ok and len(result.stored) == 4
    study = template["0020000D"]["Value"][0]
    paths = client.retrieve_study(study, tmp_path / "back")
    assert len(paths) == 4
    for path in paths:
        assert validate(path.read_bytes(), tmp_path) == [], path


def rgb_jpeg() -> bytes:
    """A JPEG whose Adobe APP14 marker says it has no colour transform (the samples are RGB)."""
    base = jpeg("RGB", 0)
    no_jfif = base[:2] + base[2 + 2 + int.from_bytes(base[4:6], "big") :]  # drop APP0 (JFIF)
    return no_jfif[:2] + b"\xff\xee\x00\x0eAdobe\x00\x64\x00\x00\x00\x00\x00" + no_jfif[2:]


def test_a_jpeg_without_colour_transform_is_an_rgb_instance_and_validates(tmp_path):
    data = rgb_jpeg()
    md = instance_metadata(minimal_metadata(), read_jpeg_info(data), "x")
    assert md["00280004"]["Value"] == ["RGB"]
    assert validate(build_part10(md, data), tmp_path) == []


def test_photometric_interpretation_follows_the_jpegs_own_markers():
    base = jpeg("RGB", 0)
    assert read_jpeg_info(base).color_space == "YCbCr"  # Pillow writes JFIF
    sof = base.index(b"\xff\xc0")
    adobe_rgb = (
        b"\xff\xee\x00\x0eAdobe\x00\x64\x00\x00\x00\x00\x00"  # APP14, transform 0: no colour transform
    )
    no_jfif = base[:2] + base[2 + 2 + int.from_bytes(base[4:6], "big") :]  # drop APP0 (JFIF)
    assert read_jpeg_info(no_jfif[:2] + adobe_rgb + no_jfif[2:]).photometric_interpretation == "RGB"
    ids_rgb = bytearray(no_jfif)
    sof = ids_rgb.index(b"\xff\xc0")
    for i, cid in enumerate(b"RGB"):
        ids_rgb[sof + 10 + 3 * i] = cid
    assert read_jpeg_info(bytes(ids_rgb)).photometric_interpretation == "RGB"
    assert json.dumps(read_jpeg_info(jpeg("L", 0)).sampling) == "[[1, 1]]"

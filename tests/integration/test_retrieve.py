"""WADO-RS through the hook against the real Orthanc: files, metadata, rendered, frames, bulkdata."""

import io
from pathlib import Path

import pydicom
import pytest
from PIL import Image

from airflow_dicomweb.core.errors import DicomWebNotFoundError, InvalidUIDError
from tests.dicom_factory import make_series


@pytest.fixture
def stored(hook, samples, tmp_path):
    src = tmp_path / "src"
    series = make_series(src / "s", 4, rows=32, columns=32)
    result = hook.store_instances([*samples.values(), *series])
    assert result.ok, result.failed
    return {Path(o.path).name: o for o in result.stored}, series


def no_temporary_files(folder: Path) -> bool:
    return not [p for p in folder.rglob("*") if p.name.endswith(".partial")]


def test_study_series_instance_come_back_byte_identical(hook, stored, tmp_path):
    by_name, series = stored
    o = by_name[series[0].name]
    dest = tmp_path / "out"

    study_files = hook.retrieve_study(o.study_instance_uid, dest)
    assert len(study_files) == 4
    for path in study_files:
        assert path.relative_to(dest).parts[:2] == (o.study_instance_uid, o.series_instance_uid)
        source = next(
            s for s in series if pydicom.dcmread(s, stop_before_pixels=True).SOPInstanceUID == path.stem
        )
        assert path.read_bytes() == source.read_bytes()

    series_files = hook.retrieve_series(o.study_instance_uid, o.series_instance_uid, tmp_path / "series")
    assert len(series_files) == 4
    [one] = hook.retrieve_instance(
        o.study_instance_uid, o.series_instance_uid, o.sop_instance_uid, tmp_path / "i"
    )
    assert one == tmp_path / "i" / o.study_instance_uid / o.series_instance_uid / f"{o.sop_instance_uid}.dcm"
    assert one.read_bytes() == series[0].read_bytes()
    assert no_temporary_files(tmp_path)


@pytest.mark.parametrize("key", ["ct", "jpeg", "multiframe"])
def test_sample_files_round_trip_byte_identical(hook, stored, samples, tmp_path, key):
    by_name, _ = stored
    o = by_name[Path(samples[key]).name]
    [path] = hook.retrieve_instance(o.study_instance_uid, o.series_instance_uid, o.sop_instance_uid, tmp_path)
    assert path.read_bytes() == Path(samples[key]).read_bytes()


def test_without_transfer_syntax_the_server_may_transcode(hook, stored, samples, tmp_path):
    by_name, _ = stored
    o = by_name[Path(samples["jpeg"]).name]
    [path] = hook.retrieve_instance(
        o.study_instance_uid, o.series_instance_uid, o.sop_instance_uid, tmp_path, transfer_syntax=None
    )
    assert (
        pydicom.dcmread(path).file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
    )  # Orthanc decompressed it


def test_metadata_at_every_level(hook, stored, samples):
    by_name, series = stored
    o = by_name[series[0].name]
    study_md = hook.retrieve_study_metadata(o.study_instance_uid)
    assert len(study_md) == 4
    assert len(hook.retrieve_series_metadata(o.study_instance_uid, o.series_instance_uid)) == 4
    md = hook.retrieve_instance_metadata(o.study_instance_uid, o.series_instance_uid, o.sop_instance_uid)
    assert md["00080018"]["Value"] == [o.sop_instance_uid]
    assert md["00280010"]["Value"] == [32]
    assert "BulkDataURI" in md["7FE00010"]


@pytest.mark.parametrize("media_type, fmt", [("image/png", "PNG"), ("image/jpeg", "JPEG")])
def test_rendered_images_decode_to_the_right_size(hook, stored, samples, media_type, fmt):
    by_name, _ = stored
    o = by_name[Path(samples["ct"]).name]
    data = hook.retrieve_instance_rendered(
        o.study_instance_uid, o.series_instance_uid, o.sop_instance_uid, media_type=media_type
    )
    image = Image.open(io.BytesIO(data))
    image.load()
    assert (image.format, image.size) == (fmt, (128, 128))
    small = hook.retrieve_instance_rendered(
        o.study_instance_uid,
        o.series_instance_uid,
        o.sop_instance_uid,
        media_type=media_type,
        viewport=(64, 64),
        quality=80,
    )
    assert Image.open(io.BytesIO(small)).size == (64, 64)


def test_rendered_frame_of_a_multiframe(hook, stored, samples):
    by_name, _ = stored
    o = by_name[Path(samples["multiframe"]).name]
    data = hook.retrieve_instance_rendered(
        o.study_instance_uid, o.series_instance_uid, o.sop_instance_uid, frame_number=3
    )
    assert Image.open(io.BytesIO(data)).size == (64, 64)


def test_frames_of_a_multiframe_instance_match_the_pixel_data(hook, stored, samples):
    by_name, _ = stored
    o = by_name[Path(samples["multiframe"]).name]
    pixel_data = pydicom.dcmread(samples["multiframe"]).PixelData
    frame_size = 64 * 64 * 2
    frames = hook.retrieve_instance_frames(
        o.study_instance_uid, o.series_instance_uid, o.sop_instance_uid, [1, 3, 10]
    )
    assert frames == [pixel_data[(n - 1) * frame_size : n * frame_size] for n in (1, 3, 10)]
    with pytest.raises(ValueError, match="frame numbers start at 1"):
        hook.retrieve_instance_frames(o.study_instance_uid, o.series_instance_uid, o.sop_instance_uid, [0])


def test_bulkdata_by_tag_path_and_by_uri_and_into_a_file(hook, stored, samples, tmp_path):
    by_name, _ = stored
    o = by_name[Path(samples["multiframe"]).name]
    pixel_data = pydicom.dcmread(samples["multiframe"]).PixelData
    by_path = hook.retrieve_bulkdata(
        study_instance_uid=o.study_instance_uid,
        series_instance_uid=o.series_instance_uid,
        sop_instance_uid=o.sop_instance_uid,
        tag_path="7FE00010",
    )
    assert by_path == pixel_data
    md = hook.retrieve_instance_metadata(o.study_instance_uid, o.series_instance_uid, o.sop_instance_uid)
    target = hook.retrieve_bulkdata(md["7FE00010"]["BulkDataURI"], dest_path=tmp_path / "pixels.raw")
    assert target.read_bytes() == pixel_data
    assert no_temporary_files(tmp_path)


def test_unknown_uid_is_a_not_found_error(hook, stored, tmp_path):
    dest = tmp_path / "dest"
    with pytest.raises(DicomWebNotFoundError, match="HTTP 404"):
        hook.retrieve_study("1.2.3.4.5.6.7.8.9", dest)
    with pytest.raises(InvalidUIDError, match=r"study_instance_uid '\.\./x'"):
        hook.retrieve_study("../x", dest)
    assert not dest.exists() or list(dest.iterdir()) == []  # nothing written


def test_resumed_retrieve_keeps_complete_files_and_fetches_the_rest(hook, tmp_path):
    import os
    import shutil

    from pydicom.uid import generate_uid

    study = generate_uid()
    a = make_series(tmp_path / "src" / "a", 3, study_uid=study, rows=16, columns=16)
    b = make_series(tmp_path / "src" / "b", 2, study_uid=study, rows=16, columns=16)
    assert hook.store_instances([*a, *b]).ok
    dest = tmp_path / "dest"
    first = hook.retrieve_study(study, dest)
    assert len(first) == 5
    kept = [
        p for p in first if p.parent.name == pydicom.dcmread(a[0], stop_before_pixels=True).SeriesInstanceUID
    ]
    os.utime(kept[0], (1_000_000, 1_000_000))  # marks a file that must not be rewritten
    kept[1].unlink()  # one instance of series a is missing
    series_b_folder = next(p.parent for p in first if p not in kept)
    shutil.rmtree(series_b_folder)  # all of series b is missing

    seen = []
    again = hook.retrieve_study(study, dest, skip_existing=True, progress=seen.append)
    assert sorted(again) == sorted(first)
    assert all(p.exists() for p in again)
    assert kept[0].stat().st_mtime == 1_000_000  # kept, not fetched again
    assert seen[-1].files_done == 5 and seen[-1].files_total == 5
    assert sorted(hook.retrieve_study(study, dest, skip_existing=True)) == sorted(first)  # nothing left to do


def test_series_fetched_in_parallel_give_the_same_files(hook, tmp_path):
    from pydicom.uid import generate_uid

    study = generate_uid()
    sources = [
        *make_series(tmp_path / "a", 3, study_uid=study, rows=16, columns=16),
        *make_series(tmp_path / "b", 4, study_uid=study, rows=16, columns=16),
    ]
    assert hook.store_instances(sources).ok
    seen = []
    paths = hook.retrieve_study(study, tmp_path / "out", series_concurrency=2, progress=seen.append)
    assert sorted(p.read_bytes() for p in paths) == sorted(s.read_bytes() for s in sources)
    assert max(s.files_done for s in seen) == 7  # the two series' progress adds up
    assert max(s.bytes_done for s in seen) == sum(p.stat().st_size for p in paths)


def test_bulkdata_of_encapsulated_pixel_data_says_there_is_no_bulkdata_uri_and_suggests_frames(
    hook, stored, samples
):
    """Orthanc gives compressed pixel data no BulkDataURI: the 404 says so, instead of a bare 404."""
    by_name, _ = stored
    o = by_name[Path(samples["jpeg"]).name]
    with pytest.raises(DicomWebNotFoundError) as caught:
        hook.retrieve_bulkdata(
            study_instance_uid=o.study_instance_uid,
            series_instance_uid=o.series_instance_uid,
            sop_instance_uid=o.sop_instance_uid,
            tag_path="7FE00010",
        )
    message = str(caught.value)
    assert "HTTP 404" in message and "metadata lists no BulkDataURI for 7FE00010" in message
    assert "retrieve the frames instead (retrieve_instance_frames)" in message

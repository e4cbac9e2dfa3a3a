"""One path type from the outside in: a local path is a pathlib.Path, a URL a UPath, an ObjectStoragePath
passes through as it is; the core's functions over them work on this machine and on an fsspec filesystem."""

from __future__ import annotations

import pathlib
import uuid
from pathlib import Path

import pytest
from upath import UPath

from airflow_dicomweb.core.errors import DicomWebStorageError
from airflow_dicomweb.core.storage.paths import (
    AtomicWriter,
    as_path,
    files,
    glob,
    is_remote,
    size,
    write_atomically,
)


def test_local_paths_stay_paths_and_upaths_pass_through(tmp_path):
    assert type(as_path(str(tmp_path))) is type(pathlib.Path(tmp_path))
    assert as_path(tmp_path) is tmp_path
    remote = UPath("memory://bucket/x")
    assert as_path(remote) is remote and is_remote(remote)
    assert isinstance(as_path("memory://bucket/x"), UPath)
    assert not is_remote(as_path(f"file://{tmp_path}")) and not is_remote(tmp_path)


def test_an_object_storage_path_passes_through_the_airflow_layer_as_it_is(tmp_path):
    from airflow.sdk import ObjectStoragePath

    from airflow_dicomweb.operators.storage_paths import to_path

    given = ObjectStoragePath(f"file://{tmp_path}/out")
    assert to_path(given) is given
    assert isinstance(to_path("s3://conn@bucket/key"), ObjectStoragePath)
    assert to_path(str(tmp_path)) == Path(tmp_path) and isinstance(to_path(str(tmp_path)), Path)


def test_an_fsspec_filesystem_is_written_atomically_listed_and_globbed():
    root = UPath(f"memory://bucket-{uuid.uuid4().hex}/study")
    writer = AtomicWriter(root / "series" / "1.dcm")
    writer.write(b"abc")
    # nothing under its name before the commit: a temporary key, moved into place at the commit
    assert [p.name.startswith(".dicomweb-") for p, _ in files(root)] == [True]
    writer.commit()
    write_atomically(root / "series" / "2.dcm", b"de")
    write_atomically(root / "notes.txt", b"n")
    listed = files(root)
    assert [(str(p), n) for p, n in listed] == [
        (str(root / "notes.txt"), 1),
        (str(root / "series" / "1.dcm"), 3),
        (str(root / "series" / "2.dcm"), 2),
    ]
    assert all(isinstance(p, UPath) for p, _ in listed)
    assert [str(p) for p, _ in glob(root / "**" / "*.dcm")] == [
        str(root / "series" / "1.dcm"),
        str(root / "series" / "2.dcm"),
    ]
    assert size(root / "series" / "2.dcm") == 2
    with pytest.raises(DicomWebStorageError, match=r"nothing\.dcm: cannot look up: not found"):
        size(root / "nothing.dcm")

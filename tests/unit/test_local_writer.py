"""The atomic writer on this machine: a descriptor beside the target, renamed at commit; the folder made
only when the file cannot be created; nothing left behind on discard; failures named."""

from __future__ import annotations

import os

import pytest

from airflow_dicomweb.core.errors import DicomWebStorageError
from airflow_dicomweb.core.storage.paths import TEMP_PREFIX, AtomicWriter, write_atomically
from airflow_dicomweb.core.wado.destination import InstanceDestination


def test_a_file_appears_whole_at_commit_in_a_folder_made_on_demand(tmp_path):
    target = tmp_path / "study" / "series" / "1.2.3.dcm"
    writer = AtomicWriter(target)
    writer.write(b"a" * 1000)
    writer.write(memoryview(b"b" * 10)[2:])
    assert not target.exists()  # not under its name before the commit
    [temp] = os.listdir(tmp_path / "study" / "series")
    assert temp.startswith(f"{TEMP_PREFIX}{os.getpid()}-")
    writer.commit()
    assert (tmp_path / "study" / "series" / "1.2.3.dcm").read_bytes() == b"a" * 1000 + b"b" * 8
    assert os.listdir(tmp_path / "study" / "series") == ["1.2.3.dcm"]


def test_a_discarded_file_leaves_nothing_and_names_are_unique(tmp_path):
    writers = [AtomicWriter(tmp_path / f"{n}.dcm") for n in range(200)]
    assert len(set(os.listdir(tmp_path))) == 200
    for writer in writers:
        writer.discard()
    assert os.listdir(tmp_path) == []


def test_a_folder_removed_between_files_is_made_again(tmp_path):
    write_atomically(tmp_path / "a" / "1.dcm", b"x")
    (tmp_path / "a" / "1.dcm").unlink()
    (tmp_path / "a").rmdir()
    write_atomically(tmp_path / "a" / "2.dcm", b"y")
    assert (tmp_path / "a" / "2.dcm").read_bytes() == b"y"


def test_a_place_that_cannot_hold_files_is_named(tmp_path):
    (tmp_path / "blocker").write_text("a file where a folder should be")
    with pytest.raises(DicomWebStorageError, match=r"blocker/x/1\.dcm: cannot write"):
        AtomicWriter(tmp_path / "blocker" / "x" / "1.dcm")


def test_a_killed_writers_partial_is_removed_by_the_next_run(tmp_path):
    stale = tmp_path / f"{TEMP_PREFIX}999999999-abc1{'.partial'}"
    stale.write_bytes(b"half")
    live = AtomicWriter(tmp_path / "live.dcm")  # this process's: kept
    assert InstanceDestination(tmp_path).remove_stale_partials() == 1
    assert not stale.exists() and len(os.listdir(tmp_path)) == 1
    live.discard()

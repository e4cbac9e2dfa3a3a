"""Where a retrieve writes its instances: one file per instance, ``{study}/{series}/{sop}.dcm`` under a
local folder or an object-store prefix. :class:`InstanceDestination` knows what is complete there (files
appear only once whole), writes a response's parts into it, and removes what a killed retrieve left."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from airflow_dicomweb.core.multipart.reader import MultipartEvent
from airflow_dicomweb.core.storage.instance_writer import instance_location, write_instances
from airflow_dicomweb.core.storage.paths import (
    TEMP_PREFIX,
    TEMP_SUFFIX,
    Destination,
    StoragePath,
    as_path,
    files,
    is_remote,
    local_name,
)


class InstanceDestination:
    """The destination of a retrieve, at ``location``."""

    def __init__(self, location: StoragePath) -> None:
        self.location = location

    @classmethod
    def of(cls, dest_dir: Destination) -> InstanceDestination:
        return cls(as_path(dest_dir))

    def __str__(self) -> str:
        return str(self.location)

    def holds_any(self, *uids: str) -> bool:
        """Whether a complete instance file of the study (or of its series, given both UIDs) is here."""
        if not is_remote(self.location):
            folder = Path(local_name(self.location)).joinpath(*uids)
            return folder.is_dir() and next(folder.rglob("*.dcm"), None) is not None
        return any(found.name.endswith(".dcm") for found, _ in files(self.location.joinpath(*uids)))

    def partition(
        self, study: str, instances: Iterable[tuple[str, str]]
    ) -> tuple[list[tuple[StoragePath, int]], list[tuple[str, str]]]:
        """Of ``instances`` (series, SOP Instance UID) of ``study``: those complete here, with their sizes,
        and those missing. One stat per instance on this machine, one listing on an object store."""
        complete = self._complete_lookup(study)
        present: list[tuple[StoragePath, int]] = []
        missing: list[tuple[str, str]] = []
        for series, sop in instances:
            found = complete(series, sop)
            if found is None:
                missing.append((series, sop))
            else:
                present.append(found)
        return present, missing

    def _complete_lookup(self, study: str) -> Callable[[str, str], tuple[StoragePath, int] | None]:
        if not is_remote(self.location):

            def on_disk(series: str, sop: str) -> tuple[StoragePath, int] | None:
                found = instance_location(self.location, study, series, sop)
                try:
                    return found, os.stat(local_name(found)).st_size
                except FileNotFoundError:
                    return None

            return on_disk
        listed = {str(found): (found, size) for found, size in files(self.location.joinpath(study))}

        def in_store(series: str, sop: str) -> tuple[StoragePath, int] | None:
            return listed.get(str(instance_location(self.location, study, series, sop)))

        return in_store

    def write(
        self,
        events: Iterable[MultipartEvent],
        *,
        source: str,
        expected: Mapping[str, str] | None = None,
        on_file: Callable[[StoragePath, int], None] | None = None,
        keep_existing: bool = False,
    ) -> list[StoragePath]:
        """Every part of a WADO-RS response into its own file here (see
        :func:`~airflow_dicomweb.core.storage.instance_writer.write_instances`); the files written."""
        return write_instances(
            events,
            self.location,
            source=source,
            expected=expected,
            on_file=on_file,
            keep_existing=keep_existing,
        )

    def remove_stale_partials(self) -> int:
        """Delete the temporary files that a killed retrieve left here (on this machine); how many.

        Temporary names carry the writer's process id: only files whose writer is no longer running are
        removed, so a retrieve running beside this one into the same folder keeps its own.
        """
        if is_remote(self.location) or not os.path.isdir(local_name(self.location)):
            return 0
        count = 0
        for path in Path(local_name(self.location)).rglob(f"{TEMP_PREFIX}*{TEMP_SUFFIX}"):
            pid = path.name[len(TEMP_PREFIX) :].split("-", 1)[0]
            if pid.isdigit() and _alive(int(pid)):
                continue
            path.unlink(missing_ok=True)
            count += 1
        return count


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

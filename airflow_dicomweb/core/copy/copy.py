"""Copy studies from one service to another, resumably and verified: DICOMweb (WADO-RS into STOW-RS) or DIMSE
(C-GET, C-STORE) on either side (:mod:`.side`).

For each study:

1. **List both sides.** The source's instances (by series) and those the destination holds already, each the
   way it can (:meth:`~airflow_dicomweb.core.wado.listing.StudyListing.every_instance`, or C-FIND). Wrong
   destination credentials end the copy here, before anything is read.
2. **Stream what is missing.** Whole series the destination lacks entirely are read in one response each,
   a few at once; series it holds in part, instance by instance; a source without series-level retrieve
   fans out as retrieves do. Each response's parts go straight into the destination's batches
   (:class:`~.sink.CopySink`): between DICOMweb services nothing is written to disk, and the bytes are those
   the source stored (``transfer-syntax=*``). A copy killed half way is simply run again: what arrived is
   skipped.
3. **Verify.** The destination's instances of the study are listed again and compared with the source's by
   SOP Instance UID; what it lacks though it was acknowledged is named (``missing_after_verify``).

With a de-identifier (:mod:`airflow_dicomweb.core.deid`), each instance is de-identified in memory between
the two sides: the destination is listed, checked and verified by the UIDs the key gives, a re-run with the
same key sends nothing new, and the report names studies and instances by those UIDs only (never beside
the source's, which would make it a mapping).

Every instance ends with an outcome, and a study that cannot be copied (the source does not hold it) is
reported and the next one goes on. Only what concerns the whole copy raises: the same service on both sides,
credentials refused, a server that cannot be reached after every retry.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from airflow_dicomweb.core import defaults
from airflow_dicomweb.core.copy.dicomweb_side import DicomWebSide
from airflow_dicomweb.core.copy.dimse_side import DimseSide
from airflow_dicomweb.core.copy.report import VERIFIED, CopyReport, StudyCopy
from airflow_dicomweb.core.copy.side import CopySide
from airflow_dicomweb.core.copy.sink import CopySink, instance_name
from airflow_dicomweb.core.deid.deidentifier import Deidentifier
from airflow_dicomweb.core.dimse.peer import DimsePeer
from airflow_dicomweb.core.errors import (
    DicomWebAuthError,
    DicomWebConfigError,
    DicomWebConnectionError,
    DicomWebError,
    DicomWebNotFoundError,
    DimseAssociationError,
    DimseNotFoundError,
)
from airflow_dicomweb.core.progress import ProgressCallback, ProgressTracker
from airflow_dicomweb.core.qido.query import FilterValue
from airflow_dicomweb.core.stow.result import Status
from airflow_dicomweb.core.transactions import Transactions

log = logging.getLogger(__name__)


class Copy:
    """Copies studies from the ``source`` side to the ``dest`` side."""

    def __init__(self, source: CopySide, dest: CopySide) -> None:
        self.source = source
        self.dest = dest
        self.source_name = source.name
        self.dest_name = dest.name
        if source.key == dest.key:
            raise DicomWebConfigError(
                f"the source and the destination are the same service ({self.source_name}): nothing to copy"
            )

    def copy_studies(
        self,
        study_instance_uids: Iterable[str] | None = None,
        filters: Mapping[str, FilterValue] | None = None,
        *,
        verify: bool = defaults.COPY_VERIFY,
        streams: int = defaults.COPY_STREAMS,
        concurrency: int = defaults.COPY_CONCURRENCY,
        batch_files: int = defaults.COPY_BATCH_FILES,
        batch_bytes: int = defaults.COPY_BATCH_BYTES,
        max_instance_mib: int = defaults.COPY_MAX_INSTANCE_MIB,
        verify_recheck_seconds: float = defaults.COPY_VERIFY_RECHECK_SECONDS,
        progress: ProgressCallback | None = None,
        deidentifier: Deidentifier | None = None,
    ) -> CopyReport:
        """Copy the studies named (or matching ``filters`` on the source) and report each; see the module."""
        if min(streams, concurrency, batch_files, batch_bytes, max_instance_mib) < 1:
            raise ValueError(
                "streams, concurrency, batch_files, batch_bytes and max_instance_mib must be >= 1"
            )
        studies = self.source.select(study_instance_uids, filters)
        report = CopyReport(source=self.source_name, destination=self.dest_name)
        tracker = ProgressTracker(progress) if progress else None
        cap = self.dest.batch_bytes
        if self.dest.concurrency is not None:
            concurrency = min(concurrency, self.dest.concurrency)
        options = {
            "batch_files": batch_files,
            "batch_bytes": min(batch_bytes, cap) if cap else batch_bytes,
            "max_instance_bytes": max_instance_mib * 1024 * 1024,
        }
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="copy-stow") as senders:
            for study in studies:
                dest_study = deidentifier.new_uid(study) if deidentifier is not None else study
                entry = StudyCopy(dest_study)
                report.studies.append(entry)
                sink = CopySink(
                    self.dest.batches(dest_study),
                    held=set(),
                    pool=senders,
                    in_flight=concurrency,
                    tracker=tracker,
                    deidentifier=deidentifier,
                    batch_files=options["batch_files"],
                    batch_bytes=options["batch_bytes"],
                    max_instance_bytes=options["max_instance_bytes"],
                )
                listing = self._copy_study(entry, study, sink, streams)
                if verify and not entry.error:
                    self._verify(entry, sink, listing, verify_recheck_seconds)
                log.info("copy of study %s: %s", dest_study, entry.counts())
        log.info("copy from %s to %s: %s", self.source_name, self.dest_name, report)
        return report

    def _copy_study(
        self, entry: StudyCopy, study: str, sink: CopySink, streams: int
    ) -> dict[str, list[str]] | None:
        """Copy source ``study`` into ``sink``, its outcomes counted in ``entry``; the source's listing of it,
        in the destination's UIDs."""
        source_listing = self._listed(self.source, study, "source")
        sink.held.update(sop for sops in self._held(entry.study_instance_uid).values() for sop in sops)
        if source_listing is not None:
            entry.source_instances = sum(len(sops) for sops in source_listing.values())
        jobs = self._plan(study, source_listing, sink)
        try:
            if len(jobs) == 1:
                self.source.stream_into(sink, study, *jobs[0])
            elif jobs:
                with ThreadPoolExecutor(max_workers=streams, thread_name_prefix="copy-read") as readers:
                    for done in [readers.submit(self.source.stream_into, sink, study, *job) for job in jobs]:
                        done.result()
        except (DicomWebNotFoundError, DimseNotFoundError) as exc:
            entry.error = f"not found on the source ({exc})"
        except (DicomWebAuthError, DicomWebConnectionError, DimseAssociationError):
            raise
        except DicomWebError as exc:
            entry.error = f"not copied whole: {exc}"
        finally:
            sink.finish()
        for outcome in sink.outcomes.values():
            if outcome.status is Status.STORED:
                entry.copied += 1
                entry.bytes_copied += outcome.size or 0
            elif outcome.status is Status.ALREADY_PRESENT:
                entry.already_present += 1
            elif outcome.status is Status.QUARANTINED:
                entry.quarantined.append(outcome)
            else:
                entry.failures.append(outcome)
        entry.failures += sink.unnamed
        renamed = _renamed(source_listing, sink)
        # held instances the plan did not read: already present, counted from the listings
        entry.already_present += len((_all(renamed) & sink.held) - set(sink.outcomes))
        return renamed

    def _plan(
        self, study: str, listing: dict[str, list[str]] | None, sink: CopySink
    ) -> list[tuple[str | None, list[tuple[str, str]] | None]]:
        """The responses to read: (series, None) for a whole series (None, None for the whole study), or
        (None, instances) for single instances."""
        if not listing:  # not listed, or listed empty (a search that does not see it yet): read it whole
            return [(None, None)]
        jobs: list[tuple[str | None, list[tuple[str, str]] | None]] = []
        single: list[tuple[str, str]] = []
        for series, sops in listing.items():
            missing = [sop for sop in sops if sink.dest_uid(sop) not in sink.held]
            if len(missing) == len(sops):
                jobs.append((series, None))
            else:
                single += [(series, sop) for sop in missing]
        if single:
            jobs.append((None, single))
        return jobs

    def _listed(self, side: CopySide, study: str, which: str) -> dict[str, list[str]] | None:
        """A side's instances of the study by series, or None where that side cannot list them."""
        try:
            return side.listing(study)
        except (DicomWebAuthError, DicomWebConnectionError, DimseAssociationError) as exc:
            raise type(exc)(f"the {which}: {exc}") from None

    def _held(self, study: str) -> dict[str, list[str]]:
        return self._listed(self.dest, study, "destination") or {}

    def _verify(
        self, entry: StudyCopy, sink: CopySink, listing: dict[str, list[str]] | None, recheck_seconds: float
    ) -> None:
        expected = _all(listing) | {o.sop_instance_uid for o in sink.outcomes.values() if o.sop_instance_uid}
        expected -= {o.sop_instance_uid for o in entry.failures + entry.quarantined}
        for attempt in range(2):
            at_dest = self._listed(self.dest, entry.study_instance_uid, "destination")
            if at_dest is None:
                entry.verification = "not possible: the destination cannot list the study's instances (every instance was sent)"
                return
            entry.destination_instances = len(_all(at_dest))
            missing = expected - _all(at_dest)
            if not missing or attempt:
                break
            time.sleep(recheck_seconds)
        entry.verification = VERIFIED
        names = {sop: se for se, sops in (listing or {}).items() for sop in sops}
        for o in sink.outcomes.values():
            if o.sop_instance_uid and o.series_instance_uid:
                names[o.sop_instance_uid] = o.series_instance_uid
        entry.missing_after_verify = sorted(
            instance_name(entry.study_instance_uid, names.get(sop) or "?", sop) for sop in missing
        )
        for name in entry.missing_after_verify:
            log.warning("copy: %s is not at the destination after the copy", name)


class Service(Protocol):
    """A DICOMweb side of a copy: a client or a hook (:class:`~airflow_dicomweb.core.client.DicomWebApi`)."""

    @property
    def transactions(self) -> Transactions: ...


def side_of(service: Service | DimsePeer) -> CopySide:
    """A client, a hook, or a DIMSE peer, as a side of a copy."""
    if isinstance(service, DimsePeer):
        return DimseSide(service)
    return DicomWebSide(service.transactions)


def copy_studies(
    source: Service | DimsePeer,
    dest: Service | DimsePeer,
    study_instance_uids: Iterable[str] | None = None,
    filters: Mapping[str, FilterValue] | None = None,
    *,
    verify: bool = defaults.COPY_VERIFY,
    streams: int = defaults.COPY_STREAMS,
    concurrency: int = defaults.COPY_CONCURRENCY,
    batch_files: int = defaults.COPY_BATCH_FILES,
    batch_bytes: int = defaults.COPY_BATCH_BYTES,
    max_instance_mib: int = defaults.COPY_MAX_INSTANCE_MIB,
    progress: ProgressCallback | None = None,
    deidentifier: Deidentifier | None = None,
) -> CopyReport:
    """Copy studies (named, or matching ``filters`` on ``source``) from ``source`` to ``dest`` (clients,
    hooks, or DIMSE peers), streamed, skipping what ``dest`` holds, and verified; the report of every study.
    See :meth:`Copy.copy_studies`."""
    return Copy(side_of(source), side_of(dest)).copy_studies(
        study_instance_uids,
        filters,
        verify=verify,
        streams=streams,
        concurrency=concurrency,
        batch_files=batch_files,
        batch_bytes=batch_bytes,
        max_instance_mib=max_instance_mib,
        progress=progress,
        deidentifier=deidentifier,
    )


def _renamed(listing: dict[str, list[str]] | None, sink: CopySink) -> dict[str, list[str]] | None:
    """A source's listing in the destination's UIDs (the same, unless the sink de-identifies)."""
    if listing is None or sink.deidentifier is None:
        return listing
    return {sink.dest_uid(series): [sink.dest_uid(sop) for sop in sops] for series, sops in listing.items()}


def _all(listing: dict[str, list[str]] | None) -> set[str]:
    return {sop for sops in (listing or {}).values() for sop in sops}

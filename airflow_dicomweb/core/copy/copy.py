"""Copy studies from one DICOMweb service to another (WADO-RS into STOW-RS), resumably and verified.

For each study:

1. **List both sides.** The source's instances (by series) and those the destination holds already, each the
   way its server can (:meth:`~airflow_dicomweb.core.wado.listing.StudyListing.every_instance`). Wrong
   destination credentials end the copy here, before anything is read.
2. **Stream what is missing.** Whole series the destination lacks entirely are read in one response each,
   a few at once; series it holds in part, instance by instance; a source without series-level retrieve
   fans out as retrieves do. Each response's parts go straight into STOW-RS requests
   (:class:`~.stow_sink.StowSink`): nothing is written to disk, and the bytes are those the source stored
   (``transfer-syntax=*``). A copy killed half way is simply run again: what arrived is skipped.
3. **Verify.** The destination's instances of the study are listed again and compared with the source's by
   SOP Instance UID; what it lacks though it was acknowledged is named (``missing_after_verify``).

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
from airflow_dicomweb.core.copy.report import VERIFIED, CopyReport, StudyCopy
from airflow_dicomweb.core.copy.selection import select_studies
from airflow_dicomweb.core.copy.stow_sink import StowSink, instance_name
from airflow_dicomweb.core.errors import (
    DicomWebAuthError,
    DicomWebConfigError,
    DicomWebConnectionError,
    DicomWebError,
    DicomWebHTTPError,
    DicomWebNotFoundError,
)
from airflow_dicomweb.core.progress import ProgressCallback, ProgressTracker
from airflow_dicomweb.core.qido.query import FilterValue
from airflow_dicomweb.core.stow.request import stow_headers, stow_url
from airflow_dicomweb.core.stow.result import Status
from airflow_dicomweb.core.transactions import Transactions

log = logging.getLogger(__name__)

#: Statuses by which a server refuses the credentials: a copy stops at once, before reading anything.
REFUSED_CREDENTIALS = (401, 403)


def same_service(a: str, b: str) -> bool:
    """Whether two service roots name the same service (case of the scheme and host, a final slash)."""

    def key(url: str) -> str:
        scheme, _, rest = url.rstrip("/").partition("://")
        host, _, path = rest.partition("/")
        return f"{scheme.lower()}://{host.lower()}/{path}"

    return key(a) == key(b)


class Copy:
    """Copies studies from the ``source`` service's transactions to the ``dest`` service's."""

    def __init__(self, source: Transactions, dest: Transactions) -> None:
        self.source = source
        self.dest = dest
        self.source_name = source.search.transport.redact(source.search.transport.settings.base_url)
        self.dest_name = dest.search.transport.redact(dest.search.transport.settings.base_url)
        if same_service(source.search.transport.settings.base_url, dest.search.transport.settings.base_url):
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
    ) -> CopyReport:
        """Copy the studies named (or matching ``filters`` on the source) and report each; see the module."""
        if min(streams, concurrency, batch_files, batch_bytes, max_instance_mib) < 1:
            raise ValueError(
                "streams, concurrency, batch_files, batch_bytes and max_instance_mib must be >= 1"
            )
        studies = select_studies(self.source.search, study_instance_uids, filters)
        report = CopyReport(source=self.source_name, destination=self.dest_name)
        tracker = ProgressTracker(progress) if progress else None
        cap = self.dest.store.profile.stow_max_bytes
        if self.dest.store.profile.stow_concurrency is not None:
            concurrency = min(concurrency, self.dest.store.profile.stow_concurrency)
        options = {
            "batch_files": batch_files,
            "batch_bytes": min(batch_bytes, cap) if cap else batch_bytes,
            "max_instance_bytes": max_instance_mib * 1024 * 1024,
        }
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="copy-stow") as senders:
            for study in studies:
                entry = StudyCopy(study)
                report.studies.append(entry)
                sink = StowSink(
                    self.dest.store.transport,
                    self.dest.store.profile,
                    self.dest.search,
                    stow_url(self.dest.store.transport, study),
                    stow_headers(None),
                    held=set(),
                    pool=senders,
                    in_flight=concurrency,
                    tracker=tracker,
                    **options,
                )
                listing = self._copy_study(entry, sink, streams)
                if verify and not entry.error:
                    self._verify(entry, sink, listing, verify_recheck_seconds)
                log.info("copy of study %s: %s", study, entry.counts())
        log.info("copy from %s to %s: %s", self.source_name, self.dest_name, report)
        return report

    def _copy_study(self, entry: StudyCopy, sink: StowSink, streams: int) -> dict[str, list[str]] | None:
        """Copy one study into ``sink``, its outcomes counted in ``entry``; the source's listing of it."""
        study = entry.study_instance_uid
        source_listing = self._listed(self.source, study, "source")
        sink.held.update(sop for sops in self._held(study).values() for sop in sops)
        if source_listing is not None:
            entry.source_instances = sum(len(sops) for sops in source_listing.values())
        jobs = self._plan(study, source_listing, sink.held)
        try:
            if len(jobs) == 1:
                self.source.instances.stream_into(sink, study, *jobs[0])
            elif jobs:
                with ThreadPoolExecutor(max_workers=streams, thread_name_prefix="copy-wado") as readers:
                    for done in [
                        readers.submit(self.source.instances.stream_into, sink, study, *job) for job in jobs
                    ]:
                        done.result()
        except DicomWebNotFoundError as exc:
            entry.error = f"not found on the source ({exc})"
        except (DicomWebAuthError, DicomWebConnectionError):
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
            else:
                entry.failures.append(outcome)
        entry.failures += sink.unnamed
        # held instances the plan did not read: already present, counted from the listings
        entry.already_present += len((_all(source_listing) & sink.held) - set(sink.outcomes))
        return source_listing

    def _plan(
        self, study: str, listing: dict[str, list[str]] | None, held: set[str]
    ) -> list[tuple[str | None, list[tuple[str, str]] | None]]:
        """The responses to read: (series, None) for a whole series (None, None for the whole study), or
        (None, instances) for single instances."""
        if not listing:  # not listed, or listed empty (a search that does not see it yet): read it whole
            return [(None, None)]
        jobs: list[tuple[str | None, list[tuple[str, str]] | None]] = []
        single: list[tuple[str, str]] = []
        for series, sops in listing.items():
            missing = [sop for sop in sops if sop not in held]
            if len(missing) == len(sops):
                jobs.append((series, None))
            else:
                single += [(series, sop) for sop in missing]
        if single:
            jobs.append((None, single))
        return jobs

    def _listed(self, side: Transactions, study: str, which: str) -> dict[str, list[str]] | None:
        """A side's instances of the study by series, or None where that server cannot list them."""
        try:
            return side.instances.listing.every_instance(study)
        except (DicomWebAuthError, DicomWebConnectionError) as exc:
            raise type(exc)(f"the {which} ({self._name(side)}): {exc}") from None
        except DicomWebHTTPError as exc:
            if exc.status in REFUSED_CREDENTIALS:
                raise DicomWebAuthError(
                    f"the {which} ({self._name(side)}) refused the credentials: {exc}"
                ) from None
            log.info("study %s: the %s cannot list its instances (%s)", study, which, exc)
            return None
        except DicomWebError as exc:
            log.info("study %s: the %s cannot list its instances (%s)", study, which, exc)
            return None

    def _held(self, study: str) -> dict[str, list[str]]:
        return self._listed(self.dest, study, "destination") or {}

    def _name(self, side: Transactions) -> str:
        return self.source_name if side is self.source else self.dest_name

    def _verify(
        self, entry: StudyCopy, sink: StowSink, listing: dict[str, list[str]] | None, recheck_seconds: float
    ) -> None:
        expected = _all(listing) | {o.sop_instance_uid for o in sink.outcomes.values() if o.sop_instance_uid}
        expected -= {o.sop_instance_uid for o in entry.failures}
        for attempt in range(2):
            at_dest = self._listed(self.dest, entry.study_instance_uid, "destination")
            if at_dest is None:
                entry.verification = "not possible: the destination cannot list the study's instances"
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
    """One side of a copy: a client or a hook (:class:`~airflow_dicomweb.core.client.DicomWebApi`)."""

    @property
    def transactions(self) -> Transactions: ...


def copy_studies(
    source: Service,
    dest: Service,
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
) -> CopyReport:
    """Copy studies (named, or matching ``filters`` on ``source``) from ``source`` to ``dest`` (clients or
    hooks), streamed from WADO-RS into STOW-RS, skipping what ``dest`` holds, and verified; the report of
    every study. See :meth:`Copy.copy_studies`."""
    return Copy(source.transactions, dest.transactions).copy_studies(
        study_instance_uids,
        filters,
        verify=verify,
        streams=streams,
        concurrency=concurrency,
        batch_files=batch_files,
        batch_bytes=batch_bytes,
        max_instance_mib=max_instance_mib,
        progress=progress,
    )


def _all(listing: dict[str, list[str]] | None) -> set[str]:
    return {sop for sops in (listing or {}).values() for sop in sops}

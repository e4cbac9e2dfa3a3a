"""One side of a copy, whatever it speaks: which studies it selects, how it lists a study's instances,
how it streams them into a sink, and how it stores a batch (:mod:`.dicomweb_side`, :mod:`.dimse_side`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from airflow_dicomweb.core.copy.sink import BatchSender, CopySink
from airflow_dicomweb.core.qido.query import FilterValue


class CopySide(Protocol):
    #: How the side is named in reports and messages (no credentials).
    name: str
    #: What tells two sides apart: the same key on both sides is the same service.
    key: str
    #: The most batches it takes at once (None: as the copy is told).
    concurrency: int | None
    #: The largest batch it takes, in bytes (None: as the copy is told).
    batch_bytes: int | None

    def select(
        self, study_instance_uids: Iterable[str] | None, filters: Mapping[str, FilterValue] | None
    ) -> list[str]:
        """The studies a copy from this side moves: the UIDs given, or every study matching ``filters``."""
        ...

    def listing(self, study: str) -> dict[str, list[str]] | None:
        """The study's SOP Instance UIDs by series; None where this side cannot list them. Raises when the
        side cannot be reached or refuses the credentials."""
        ...

    def stream_into(
        self, sink: CopySink, study: str, series: str | None, instances: list[tuple[str, str]] | None
    ) -> None:
        """A study's or series' instances (or just ``instances``) into ``sink`` as they arrive."""
        ...

    def batches(self, study: str) -> BatchSender:
        """How this side, as the destination, stores a batch of ``study``."""
        ...

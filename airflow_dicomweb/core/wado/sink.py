"""Where the parts of a WADO-RS response go: files under a destination
(:class:`~airflow_dicomweb.core.wado.destination.InstanceDestination`), or straight into another service's
store (:class:`~airflow_dicomweb.core.copy.sink.CopySink`). The retrieve fans out, retries and names
what it asked for; the sink takes each response's events as they arrive."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from airflow_dicomweb.core.multipart.reader import MultipartEvent


class InstanceSink(Protocol):
    def write(
        self,
        events: Iterable[MultipartEvent],
        *,
        source: str,
        expected: Mapping[str, str] | None = None,
        on_file: Callable[[Any, int], None] | None = None,
        keep_existing: bool = False,
    ) -> list[Any]:
        """Take every part of one response (``source`` names it, without credentials); what was made of
        each. ``expected`` maps the UIDs asked for to their values: a part that does not match is refused.
        ``on_file(what, size)`` is called as each part is done."""
        ...

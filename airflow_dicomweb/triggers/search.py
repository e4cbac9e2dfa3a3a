"""``DicomWebSearchTrigger``: waits in the triggerer until a QIDO-RS search has enough matches."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_dicomweb.core.errors import DicomWebError
from airflow_dicomweb.triggers.base import connected


def count_matches(client: Any, level: str, search: dict[str, Any], min_count: int) -> int:
    """How many results the search has, counting no further than ``min_count``."""
    return sum(1 for _ in client.iter_search(level, limit=min_count, **search))


class DicomWebSearchTrigger(BaseTrigger):
    """Repeat a search every ``poll_interval`` seconds until it returns at least ``min_count`` matches.

    ``search`` holds the keyword arguments of ``iter_search`` (``filters``, ``study_instance_uid``,
    ``series_instance_uid``...). Yields ``{"status": "success", "count": n}``, or ``{"status": "error",
    "message": ...}`` if the search itself fails after its retries.
    """

    def __init__(
        self,
        level: str,
        search: dict[str, Any],
        min_count: int,
        dicomweb_conn_id: str,
        poll_interval: float = 30.0,
    ) -> None:
        super().__init__()
        self.level = level
        self.search = search
        self.min_count = min_count
        self.dicomweb_conn_id = dicomweb_conn_id
        self.poll_interval = poll_interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "level": self.level,
                "search": self.search,
                "min_count": self.min_count,
                "dicomweb_conn_id": self.dicomweb_conn_id,
                "poll_interval": self.poll_interval,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        try:
            async with connected(self.dicomweb_conn_id) as client:
                while True:
                    count = await asyncio.to_thread(
                        count_matches, client, self.level, self.search, self.min_count
                    )
                    if count >= self.min_count:
                        break
                    self.log.info(
                        "search %s: %d of %d matches; next look in %.0f s",
                        self.level,
                        count,
                        self.min_count,
                        self.poll_interval,
                    )
                    await asyncio.sleep(self.poll_interval)
        except DicomWebError as exc:
            yield TriggerEvent({"status": "error", "message": str(exc)})
            return
        yield TriggerEvent({"status": "success", "count": count})

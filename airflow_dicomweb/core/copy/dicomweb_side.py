"""A DICOMweb service as a side of a copy: QIDO-RS selects and lists, WADO-RS streams (fanned out where the
server has no study- or series-level retrieve), STOW-RS stores."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from airflow_dicomweb.core.copy.selection import select_studies
from airflow_dicomweb.core.copy.sink import CopySink
from airflow_dicomweb.core.copy.stow_batches import StowBatches
from airflow_dicomweb.core.errors import (
    DicomWebAuthError,
    DicomWebConnectionError,
    DicomWebError,
    DicomWebHTTPError,
)
from airflow_dicomweb.core.qido.query import FilterValue
from airflow_dicomweb.core.transactions import Transactions

#: Statuses by which a server refuses the credentials: a copy stops at once, before reading anything.
REFUSED_CREDENTIALS = (401, 403)


class DicomWebSide:
    def __init__(self, transactions: Transactions) -> None:
        self.transactions = transactions
        transport = transactions.search.transport
        self.name = transport.redact(transport.settings.base_url)
        self.key = _normalized(transport.settings.base_url)
        profile = transactions.store.profile
        self.concurrency: int | None = profile.stow_concurrency
        self.batch_bytes: int | None = profile.stow_max_bytes

    def select(
        self, study_instance_uids: Iterable[str] | None, filters: Mapping[str, FilterValue] | None
    ) -> list[str]:
        return select_studies(self.transactions.search, study_instance_uids, filters)

    def listing(self, study: str) -> dict[str, list[str]] | None:
        try:
            return self.transactions.instances.listing.every_instance(study)
        except (DicomWebAuthError, DicomWebConnectionError) as exc:
            raise type(exc)(f"{self.name}: {exc}") from None
        except DicomWebHTTPError as exc:
            if exc.status in REFUSED_CREDENTIALS:
                raise DicomWebAuthError(f"{self.name} refused the credentials: {exc}") from None
            return None
        except DicomWebError:
            return None

    def stream_into(
        self, sink: CopySink, study: str, series: str | None, instances: list[tuple[str, str]] | None
    ) -> None:
        self.transactions.instances.stream_into(sink, study, series, instances)

    def batches(self, study: str) -> StowBatches:
        return StowBatches(self.transactions, study)


def _normalized(url: str) -> str:
    """A service root compared case-blind in its scheme and host, without a final slash."""
    scheme, _, rest = url.rstrip("/").partition("://")
    host, _, path = rest.partition("/")
    return f"{scheme.lower()}://{host.lower()}/{path}"

"""Study arrivals: which studies a server has completed that a watcher has not announced yet.

Each source of arrivals is one module behind :class:`~.source.ArrivalSource`: ``search`` (QIDO-RS over a
StudyDate window), ``change-feed`` (Azure's change feed, exact), ``orthanc-changes`` (Orthanc's REST
``/changes``, exact), the push sources of the clouds' queues, and ``landing`` (files in a landing location). ``auto`` is the source the server profile names (``ServerProfile.arrival_source``).
Every source waits for a study to settle (:mod:`.settling`); what an announcement reports is :mod:`.event`'s.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING

from airflow_dicomweb.core.errors import DicomWebConfigError

if TYPE_CHECKING:
    from airflow_dicomweb.core.arrivals.source import ArrivalSource
    from airflow_dicomweb.core.client import DicomWebApi

AUTO = "auto"
_NOT_SOURCES = {"event", "push", "settling", "source", "watch"}


def names() -> list[str]:
    """Every source of this package, by the name a trigger gives it."""
    return sorted(
        m.name.replace("_", "-") for m in pkgutil.iter_modules(__path__) if m.name not in _NOT_SOURCES
    )


def source_type(name: str) -> type[ArrivalSource]:
    """The class of the source called ``name``."""
    if name not in names():
        raise DicomWebConfigError(
            f"unknown arrival source {name!r}; expected {AUTO} or one of {', '.join(names())}"
        )
    module = importlib.import_module(f"{__name__}.{name.replace('-', '_')}")
    source: type[ArrivalSource] = module.SOURCE
    return source


def source_for(name: str, client: DicomWebApi) -> ArrivalSource:
    """The source called ``name`` (``auto``: the one the client's server profile names), over ``client``."""
    if name == AUTO:
        name = client.transport.settings.profile.arrival_source
    return source_type(name)(client)

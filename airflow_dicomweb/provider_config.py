"""The provider's ``[dicomweb]`` section of Airflow's configuration: site-wide defaults for what a connection
does not set (its pool size, retries, timeout) and for the study-arrival watcher's settle time. Listed in the
provider info (``config``), so ``airflow config list`` shows it; each default is the core's
(:mod:`airflow_dicomweb.core.defaults`), defined once.

Set as ``[dicomweb] pool_size = 32`` in ``airflow.cfg`` or ``AIRFLOW__DICOMWEB__POOL_SIZE=32``; a connection's
own extra wins over it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from airflow_dicomweb.core import defaults

SECTION = "dicomweb"
VERSION_ADDED = "0.4.0"


@dataclass(frozen=True)
class ConfigOption:
    name: str
    kind: str  # the provider-info type: integer, float, string, boolean
    default: float
    description: str
    #: The connection extra it is the default of (None: it is read elsewhere).
    extra: str | None


OPTIONS = (
    ConfigOption(
        "pool_size",
        "integer",
        defaults.POOL_SIZE,
        "Pooled keep-alive connections per host, for connections whose extras do not set pool_size.",
        "pool_size",
    ),
    ConfigOption(
        "max_retries",
        "integer",
        defaults.MAX_RETRIES,
        "Retries of a failed request (connection errors, cut bodies, 408, 429, 5xx), for connections whose "
        "extras do not set max_retries.",
        "max_retries",
    ),
    ConfigOption(
        "timeout",
        "float",
        defaults.TIMEOUT[1],
        "Read timeout of each request in seconds, for connections whose extras do not set timeout.",
        "timeout",
    ),
    ConfigOption(
        "settle_seconds",
        "float",
        defaults.ARRIVAL_SETTLE_SECONDS,
        "How long a study must go without a new instance before the study-arrival watcher announces it, for "
        "watchers that do not set settle_seconds.",
        None,
    ),
)


def provider_config() -> dict[str, Any]:
    """The ``config`` entry of the provider info."""
    return {
        SECTION: {
            "description": "Site-wide defaults of the DICOMweb provider; a connection's own extras win.",
            "options": {
                o.name: {
                    "description": o.description,
                    "version_added": VERSION_ADDED,
                    "type": o.kind,
                    "example": str(o.default * 2 if o.kind == "integer" else o.default),
                    "default": str(o.default),
                }
                for o in OPTIONS
            },
        }
    }


def configured(name: str) -> float:
    """The value of option ``name`` as Airflow's configuration has it (its default when unset)."""
    from airflow.configuration import conf

    option = next(o for o in OPTIONS if o.name == name)
    raw = conf.get(SECTION, name, fallback=None)
    if raw in (None, ""):
        return option.default
    try:
        return int(raw) if option.kind == "integer" else float(raw)
    except ValueError:
        raise ValueError(f"[{SECTION}] {name} must be a number, not {str(raw)[:40]!r}") from None


def connection_defaults() -> dict[str, float]:
    """The connection extras the configuration sets defaults for, with their values."""
    return {o.extra: configured(o.name) for o in OPTIONS if o.extra is not None}

"""The ``deidentify=`` option of the operators that send instances on (store, transfer): a connection ID
(the key's), ``True`` for the default one, or ``{"key_conn_id": ..., "retain": [...], "mapping_path": ...}``;
made into the core's de-identifier with :class:`~airflow_dicomweb.hooks.deidentification.DeidentificationHook`,
and the mapping written where it says."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airflow.sdk.exceptions import AirflowException

from airflow_dicomweb.core import defaults
from airflow_dicomweb.core.deid.deidentifier import Deidentifier
from airflow_dicomweb.hooks.deidentification import DeidentificationHook
from airflow_dicomweb.operators.storage_paths import to_path

_SPEC_KEYS = frozenset({"key_conn_id", "retain", "mapping_path"})


@dataclass(frozen=True, slots=True)
class DeidentifySpec:
    """What ``deidentify=`` says: whose key, which options retained, where the mapping goes (if anywhere)."""

    key_conn_id: str = defaults.DEID_KEY_CONN_ID
    retain: tuple[str, ...] = ()
    mapping_path: Any = None

    @classmethod
    def parse(cls, value: Any) -> DeidentifySpec | None:
        """None for no de-identification (None, False, ''); a connection ID; True for the default one; or a
        dict with ``key_conn_id``, ``retain`` and ``mapping_path``."""
        if value is None or value is False or value == "":
            return None
        if value is True:
            return cls()
        if isinstance(value, str):
            return cls(key_conn_id=value)
        if isinstance(value, Mapping):
            unknown = set(value) - _SPEC_KEYS
            if unknown:
                raise AirflowException(
                    f"deidentify: unknown keys {sorted(unknown)}; it takes {sorted(_SPEC_KEYS)}"
                )
            retain = value.get("retain") or ()
            return cls(
                key_conn_id=str(value.get("key_conn_id") or defaults.DEID_KEY_CONN_ID),
                retain=(retain,) if isinstance(retain, str) else tuple(str(r) for r in retain),
                mapping_path=value.get("mapping_path"),
            )
        raise AirflowException(f"deidentify must be a connection ID or a dict, not {type(value).__name__}")


def write_mapping(spec: DeidentifySpec | None, deidentifier: Deidentifier | None) -> None:
    """Write the mapping where ``spec`` names it (and nowhere, when it names no place)."""
    if spec is None or not spec.mapping_path or deidentifier is None or deidentifier.mapping is None:
        return
    deidentifier.mapping.write(to_path(spec.mapping_path))


def deidentifier_for(spec: DeidentifySpec) -> Deidentifier:
    """The de-identifier ``spec`` describes (its mapping recorded when it names a mapping path)."""
    hook = DeidentificationHook(key_conn_id=spec.key_conn_id)
    return hook.deidentifier(spec.retain, with_mapping=spec.mapping_path is not None)

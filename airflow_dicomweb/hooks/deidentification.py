"""``DeidentificationHook``: the de-identification key of an Airflow connection (its password field, masked
like any password in task logs), made into the core's :class:`~airflow_dicomweb.core.deid.deidentifier.Deidentifier`.

Operators that de-identify take ``deidentify=``: a connection ID (the key's), or a dict
``{"key_conn_id": ..., "retain": [...], "mapping_path": ...}``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowException

from airflow_dicomweb.core import defaults
from airflow_dicomweb.core.deid.deidentifier import Deidentifier
from airflow_dicomweb.core.deid.key import DeidentificationKey
from airflow_dicomweb.core.deid.mapping import DeidentificationMapping
from airflow_dicomweb.core.deid.options import RetainOption
from airflow_dicomweb.core.errors import DicomWebConfigError

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


class DeidentificationHook(BaseHook):
    """The key in the password of connection ``key_conn_id`` (any connection type)."""

    conn_name_attr = "key_conn_id"
    default_conn_name = defaults.DEID_KEY_CONN_ID
    conn_type = "dicom_deid_key"
    hook_name = "DICOM de-identification key"

    def __init__(self, key_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.key_conn_id = key_conn_id

    def get_key(self) -> DeidentificationKey:
        password = self.get_connection(self.key_conn_id).password
        if not password:
            raise AirflowException(
                f"connection {self.key_conn_id!r} has no password: the de-identification key goes there"
            )
        try:
            return DeidentificationKey(password)
        except DicomWebConfigError as exc:  # the message names the rule, never the key
            raise AirflowException(f"connection {self.key_conn_id!r}: {exc}") from None

    def get_conn(self) -> DeidentificationKey:
        return self.get_key()

    def deidentifier(
        self, retain: Iterable[str | RetainOption] | str | None = None, *, with_mapping: bool = False
    ) -> Deidentifier:
        """A de-identifier with this key; ``with_mapping`` records originals for a mapping file."""
        try:
            return Deidentifier(
                self.get_key(), retain, mapping=DeidentificationMapping() if with_mapping else None
            )
        except DicomWebConfigError as exc:
            raise AirflowException(str(exc)) from None


def write_mapping(spec: DeidentifySpec | None, deidentifier: Deidentifier | None) -> None:
    """Write the mapping where ``spec`` names it (and nowhere, when it names no place)."""
    if spec is None or not spec.mapping_path or deidentifier is None or deidentifier.mapping is None:
        return
    from airflow_dicomweb.operators.storage_paths import to_path

    deidentifier.mapping.write(to_path(spec.mapping_path))


def deidentifier_for(spec: DeidentifySpec) -> Deidentifier:
    """The de-identifier ``spec`` describes (its mapping recorded when it names a mapping path)."""
    hook = DeidentificationHook(key_conn_id=spec.key_conn_id)
    return hook.deidentifier(spec.retain, with_mapping=spec.mapping_path is not None)

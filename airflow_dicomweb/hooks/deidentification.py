"""``DeidentificationHook``: the de-identification key of an Airflow connection (its password field, masked
like any password in task logs), made into the core's :class:`~airflow_dicomweb.core.deid.deidentifier.Deidentifier`.
Operators' ``deidentify=`` option is read in :mod:`airflow_dicomweb.operators.deidentify_option`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowException

from airflow_dicomweb.core import defaults
from airflow_dicomweb.core.deid.deidentifier import Deidentifier
from airflow_dicomweb.core.deid.key import DeidentificationKey
from airflow_dicomweb.core.deid.mapping import DeidentificationMapping
from airflow_dicomweb.core.deid.options import RetainOption
from airflow_dicomweb.core.errors import DicomWebConfigError


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

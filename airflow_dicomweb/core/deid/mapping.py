"""The mapping from originals to replacements (per patient and per UID), kept only when the user names where
to write it: it re-identifies every output, so it is written there and nowhere else (no log, no XCom, no
report)."""

from __future__ import annotations

import json
import threading

from airflow_dicomweb.core.storage.paths import Destination, as_path, write_atomically


class DeidentificationMapping:
    """Originals and their replacements, collected as instances are de-identified (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.patients: dict[str, dict[str, str]] = {}
        self.uids: dict[str, str] = {}

    def patient(self, original_id: str, original_name: str, pseudonym: str, day_offset: int | None) -> None:
        entry = {"patient_id": original_id, "patient_name": original_name, "pseudonym": pseudonym}
        if day_offset is not None:
            entry["days_shifted_back"] = str(day_offset)
        with self._lock:
            self.patients.setdefault(pseudonym, entry)

    def uid(self, original: str, replacement: str) -> None:
        with self._lock:
            self.uids.setdefault(original, replacement)

    def to_json(self) -> str:
        with self._lock:
            patients = [self.patients[key] for key in sorted(self.patients)]
            uids = dict(sorted(self.uids.items()))
        return json.dumps({"patients": patients, "uids": uids}, indent=1) + "\n"

    def write(self, target: Destination) -> None:
        """Write the mapping to ``target`` (a path or object-store URL), atomically."""
        write_atomically(as_path(target), self.to_json().encode("utf-8"))

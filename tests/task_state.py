"""The task state store as an operator sees it (``get``/``set``; Airflow 3.3 keeps it across a task's tries),
held in memory, for tests that run an operator's tries one after the other."""

from __future__ import annotations


class TaskStateStore:
    def __init__(self) -> None:
        self.values: dict[str, object] = {}

    def get(self, key: str) -> object:
        return self.values.get(key)

    def set(self, key: str, value: object) -> None:
        self.values[key] = value

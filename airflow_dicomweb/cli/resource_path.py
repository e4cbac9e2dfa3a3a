"""``studies/UID[/series/UID[/instances/UID]]``, the resource paths the commands take, as dcmweb takes them."""

from __future__ import annotations

from dataclasses import dataclass

from airflow_dicomweb.core.uids import validate_uid


@dataclass(frozen=True)
class ResourcePath:
    study: str
    series: str | None = None
    instance: str | None = None

    @classmethod
    def parse(cls, text: str) -> ResourcePath:
        """A path as the user wrote it; ValueError naming what is wrong."""
        segments = [s for s in text.strip().strip("/").split("/") if s]
        names = ("studies", "series", "instances")
        if not segments or len(segments) % 2 or len(segments) > 6:
            raise ValueError(f"{text!r} is not studies/UID[/series/UID[/instances/UID]]")
        uids = []
        for i in range(0, len(segments), 2):
            if segments[i] != names[i // 2]:
                raise ValueError(f"{text!r}: expected {names[i // 2]}/ where it has {segments[i]}/")
            uids.append(validate_uid(segments[i + 1], f"the {names[i // 2]} UID in {text!r}"))
        return cls(*uids)

    @property
    def level(self) -> str:
        return "instance" if self.instance else "series" if self.series else "study"

    def __str__(self) -> str:
        text = f"studies/{self.study}"
        if self.series:
            text += f"/series/{self.series}"
        if self.instance:
            text += f"/instances/{self.instance}"
        return text

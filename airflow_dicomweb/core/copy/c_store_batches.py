"""A copy's batches into a DIMSE destination: each instance of a batch written to a temporary file (removed
once sent) and sent by C-STORE on one association, with a presentation context for each SOP class and
transfer syntax in the batch: the bytes as the source stored them, never re-encoded."""

from __future__ import annotations

import tempfile
from pathlib import Path

from airflow_dicomweb.core.copy.sink import ReadyInstance
from airflow_dicomweb.core.dicom.instance_header import InstanceHeader
from airflow_dicomweb.core.dimse.peer import DimsePeer
from airflow_dicomweb.core.dimse.store import store_files
from airflow_dicomweb.core.stow.request import failed_outcome
from airflow_dicomweb.core.stow.result import InstanceOutcome


class CStoreBatches:
    def __init__(self, peer: DimsePeer) -> None:
        self.peer = peer

    def refusal(self, header: InstanceHeader) -> str:
        return ""  # the peer's accepted contexts say, per instance, when the batch is sent

    def __call__(self, batch: list[ReadyInstance]) -> list[tuple[int, InstanceOutcome]]:
        with tempfile.TemporaryDirectory(prefix="dicomweb-c-store-") as folder:
            paths: dict[str, ReadyInstance] = {}
            for n, ready in enumerate(batch):
                path = Path(folder) / f"{n}.dcm"
                with open(path, "wb") as out:
                    for chunk in ready.chunks:
                        out.write(chunk)
                paths[str(path)] = ready
            result = store_files(self.peer, list(paths))
        answers: list[tuple[int, InstanceOutcome]] = []
        for outcome in result.outcomes:
            ready = paths[outcome.path]
            outcome.path = str(ready.item.path)  # the instance's name in the copy, not the temporary file's
            answers.append((ready.item.index, outcome))
        answered = {index for index, _ in answers}
        answers += [
            (r.item.index, failed_outcome(r.item, r.header, f"{self.peer.name} gave no answer for it"))
            for r in batch
            if r.item.index not in answered
        ]
        return answers

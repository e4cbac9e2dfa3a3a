"""The module paths of the flat core before it was split into packages by seam, kept importing: each old
name is the module that now holds its contents (``airflow_dicomweb.core.transport`` is
``airflow_dicomweb.core.http.transport``, the same module object). Installed by the core's ``__init__``."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType

_CORE = "airflow_dicomweb.core"

#: old module (under the core) -> the module that holds it now
MOVED = {
    "transport": "http.transport",
    "url_policy": "http.url_policy",
    "response_body": "http.response_body",
    "retry": "http.retry",
    "redaction": "http.redaction",
    "google_credentials": "auth.google",
    "instance_header": "dicom.instance_header",
    "part10_uids": "dicom.part10_uids",
    "jpeg_instances": "dicom.jpeg_instances",
    "multipart_reader": "multipart.reader",
    "multipart_writer": "multipart.writer",
    "stow_response": "stow.response",
    "stow_jpeg": "stow.jpeg",
    "input_files": "stow.inputs",
    "store_result": "stow.result",
    "query": "qido.query",
    "json_array_stream": "qido.json_stream",
    "study_arrivals": "qido.study_arrivals",
    "wado_response": "wado.response",
    "retrieve_instances": "wado.instances",
    "retrieve_metadata": "wado.metadata",
    "retrieve_pixels": "wado.pixels",
    "retrieve_bulkdata": "wado.bulkdata",
    "instance_files": "storage.instance_writer",
    "instance_objects": "storage.instance_writer",
    "delete": "operations.delete",
    "orthanc_delete": "operations.orthanc_rest",
}


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds an old module path and hands over the module that holds it now."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        prefix, _, name = fullname.rpartition(".")
        if prefix != _CORE or name not in MOVED:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return importlib.import_module(f"{_CORE}.{MOVED[spec.name.rpartition('.')[2]]}")

    def exec_module(self, module: ModuleType) -> None:
        """The module was executed under its own name already."""


def install() -> None:
    if not any(isinstance(finder, _MovedModules) for finder in sys.meta_path):
        sys.meta_path.append(_MovedModules())

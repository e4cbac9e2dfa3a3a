"""What every DICOMweb operator shares: the connection, a lazily built hook, paths named by UIDs."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from string import Formatter
from typing import Any

from airflow.sdk import BaseOperator, BaseOperatorLink

from airflow_dicomweb.core.progress import ThrottledProgressLog
from airflow_dicomweb.core.storage.paths import StoragePath
from airflow_dicomweb.core.uids import validate_uid
from airflow_dicomweb.core.wado.bulkdata import normalize_tag_path
from airflow_dicomweb.hooks.dicomweb import DicomWebHook
from airflow_dicomweb.operators.asset_events import emit_study_events
from airflow_dicomweb.operators.lineage import LineageNotes, dicomweb_dataset_name, storage_dataset_name
from airflow_dicomweb.operators.storage_paths import to_path
from airflow_dicomweb.operators.viewer_link import StudyViewerLink, save_viewer_link


class DicomWebBaseOperator(BaseOperator):
    """Base of the DICOMweb operators. The hook is built on first use, never at DAG parse time.

    :param dicomweb_conn_id: the ``dicomweb`` connection (templated).
    :param progress_interval: seconds between progress lines in the task log for long transfers.
    """

    template_fields: Sequence[str] = ("dicomweb_conn_id",)
    operator_extra_links: tuple[BaseOperatorLink, ...] = (StudyViewerLink(),)
    #: How the task uses the DICOMweb resource it names, for lineage: ``read`` (an input), ``write`` (the
    #: studies it stored are outputs) or ``drop`` (deleted).
    lineage_role: str = "read"

    def __init__(
        self,
        *,
        dicomweb_conn_id: str = DicomWebHook.default_conn_name,
        progress_interval: float = 15.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.dicomweb_conn_id = dicomweb_conn_id
        self.progress_interval = progress_interval

    @cached_property
    def hook(self) -> DicomWebHook:
        return DicomWebHook(self.dicomweb_conn_id)

    def progress_log(self, what: str) -> ThrottledProgressLog:
        return ThrottledProgressLog(self.log, what, self.progress_interval)  # type: ignore[arg-type]

    def emit_study_events(self, context: Any, operation: str, studies: dict[str, dict[str, Any]]) -> None:
        """Asset events for the studies this task touched, on the outlets the DAG declared (opt-in); and the
        first study's viewer link for the task's extra link."""
        if operation != "delete":
            save_viewer_link(self, self.hook.settings, studies)
        if self.outlets:
            added = emit_study_events(
                list(self.outlets),
                context,
                self.hook.settings.base_url,
                operation,
                self.dicomweb_conn_id,
                studies,
            )
            self.log.info("recorded %d asset events for %d studies", added, len(studies))

    @cached_property
    def lineage_notes(self) -> LineageNotes:
        return LineageNotes()

    def report_stored(self, context: Any, inputs: Any, result: Any) -> None:
        """After a store: lineage (the inputs read, the studies written) and the studies' asset events."""
        studies = result.by_study()
        self.note_inputs(inputs)
        self.note_studies(studies)
        self.emit_study_events(context, "store", studies)

    def note_studies(self, studies: Any) -> None:
        """Lineage: these studies of the service were written (stored) by this task."""
        base = self.hook.settings.base_url
        self.lineage_notes.outputs.extend(dicomweb_dataset_name(base, uid) for uid in studies)

    def note_inputs(self, locations: Any) -> None:
        """Lineage: these files, folders, prefixes or patterns were read by this task."""
        self.lineage_notes.inputs.extend(storage_dataset_name(str(loc)) for loc in locations)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage's hook: what this task read and wrote (see :mod:`airflow_dicomweb.operators.lineage`)."""
        notes = self.lineage_notes
        resource = dicomweb_dataset_name(
            self.hook.settings.base_url, getattr(self, "study_instance_uid", None)
        )
        if self.lineage_role == "read":
            notes.inputs.insert(0, resource)
        elif self.lineage_role == "drop":
            notes.dropped.append(resource)
        return notes.operator_lineage()

    def uid_args(self) -> dict[str, str]:
        """The operator's UIDs by name, for ``{study_instance_uid}``-style placeholders in paths."""
        return {
            name: value
            for name in ("study_instance_uid", "series_instance_uid", "sop_instance_uid")
            if (value := getattr(self, name, None))
        }

    def output_file(self, template: Any, **extra: str) -> StoragePath:
        """A file or folder from a (rendered) template whose ``{study_instance_uid}``-style placeholders are
        filled: a local path, or a URL / ``ObjectStoragePath`` on an object store.

        Placeholders are filled at execute time, so one mapped task per study can write to its own file.
        Each value is validated (see :func:`fill_path_placeholders`) before it becomes part of a path.
        """
        location = to_path(fill_path_placeholders(str(template), {**self.uid_args(), **extra}))
        self.lineage_notes.outputs.append(storage_dataset_name(str(location)))
        return location


#: Placeholders a path may hold, and how each value is checked before it becomes part of a path.
PATH_PLACEHOLDERS = {
    "study_instance_uid": lambda v: validate_uid(v, "study_instance_uid"),
    "series_instance_uid": lambda v: validate_uid(v, "series_instance_uid"),
    "sop_instance_uid": lambda v: validate_uid(v, "sop_instance_uid"),
    "tag_path": lambda v: "-".join(normalize_tag_path(v)),
}


def fill_path_placeholders(template: str, values: dict[str, str]) -> str:
    """``template`` with its ``{name}`` placeholders filled by validated values.

    Only plain placeholders of :data:`PATH_PLACEHOLDERS` are allowed (no attribute access, index or format
    spec), and every value is validated first: a UID is digits and dots, a tag path hex digits and item
    numbers. A value from a hostile server or an upstream XCom (``../../etc``) is refused with a
    :class:`ValueError` naming it, before anything touches the filesystem.
    """
    out = []
    try:
        parsed = list(Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"path {template!r} has a malformed placeholder: {exc}") from None
    for literal, field, spec, conversion in parsed:
        out.append(literal)
        if field is None:
            continue
        if field not in PATH_PLACEHOLDERS or spec or conversion:
            raise ValueError(
                f"path {template!r}: {{{field}}} is not a placeholder paths may use "
                f"(use {', '.join('{' + k + '}' for k in PATH_PLACEHOLDERS)})"
            )
        if values.get(field) in (None, ""):
            raise ValueError(f"path {template!r} names {{{field}}} but this task has no such value")
        out.append(PATH_PLACEHOLDERS[field](values[field]))
    return "".join(out)

"""Sphinx configuration of the provider's documentation (``sphinx-build -W docs docs/_build``)."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
# Importing the operators imports Airflow: give it a home of its own, not the reader's.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="airflow-docs-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

from airflow_dicomweb import __version__  # noqa: E402
from airflow_dicomweb.core.connection_fields import table  # noqa: E402

project = "airflow-dicomweb"
version = release = __version__
extensions = ["sphinx.ext.autodoc", "myst_parser"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
# The Markdown pages link to files of the repository (DAGs, benchmarks, tests) as GitHub shows them.
myst_all_links_external = True
myst_heading_anchors = 3
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": False}
autodoc_typehints = "description"
exclude_patterns = ["_build"]
html_theme = "alabaster"


def _connection_fields_table() -> str:
    """The connection form's fields, from the provider info itself (so the page cannot drift from it)."""
    lines = [
        ".. list-table::",
        "   :header-rows: 1",
        "   :widths: 20 25 55",
        "",
        "   * - extra",
        "     - label",
        "     - meaning",
    ]
    for name, declared in table().items():
        field = declared.form()
        schema = field["schema"]
        extra = f" Choices: {', '.join(schema['enum'])}." if "enum" in schema else ""
        default = f" Default: ``{schema['default']}``." if "default" in schema else ""
        lines += [
            f"   * - ``{name}``",
            f"     - {field['label']}",
            f"     - {field['description']}{extra}{default}",
        ]
    return "\n".join(lines) + "\n"


generated = HERE / "_generated"
generated.mkdir(exist_ok=True)
(generated / "connection_fields.rst").write_text(_connection_fields_table())

"""The connection form: valid for Airflow, no ``null`` choice in any select, and exactly the extras the connection
reference documents and the core reads."""

import json
import re
from pathlib import Path

import airflow
import jsonschema

from airflow_dicomweb.get_provider_info import get_provider_info

ROOT = Path(__file__).resolve().parents[2]
FIELDS = get_provider_info()["connection-types"][0]["conn-fields"]


def test_the_provider_info_is_valid_for_airflow():
    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)


def test_no_select_offers_null_and_every_default_is_a_choice():
    for name, field in FIELDS.items():
        schema = field["schema"]
        if "enum" in schema:
            assert None not in schema["enum"], name
            assert schema["type"] == "string", name
            assert schema.get("default") in schema["enum"], name
        assert field["label"] and field["description"], name


def test_the_form_carries_every_documented_extra_and_the_core_reads_each():
    reference = (ROOT / "docs" / "connection_extras.md").read_text()
    documented = set()
    for line in reference.splitlines():
        if line.startswith("| extra "):
            documented |= set(re.findall(r"`([a-z_]+)`", line.split("|")[1]))
    assert documented == set(FIELDS)
    core = "".join(p.read_text() for p in (ROOT / "airflow_dicomweb" / "core").rglob("*.py"))
    for name in FIELDS:
        assert f'"{name}"' in core, f"{name} is on the form but the core never reads it"

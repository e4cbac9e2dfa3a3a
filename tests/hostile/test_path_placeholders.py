"""No templated value writes outside the destination: every placeholder that fills a path is validated
before anything touches the filesystem, in every operator that writes files.

A hostile value reaches a placeholder through a template (an upstream XCom from a hostile search, a run's
conf): ``../../x`` as a study UID must be refused, name the value, and leave nothing anywhere.
"""

import json

import pytest

from airflow_dicomweb.core.errors import InvalidUIDError
from airflow_dicomweb.operators.bulkdata import DicomWebRetrieveBulkdataOperator
from airflow_dicomweb.operators.metadata import DicomWebRetrieveMetadataOperator
from airflow_dicomweb.operators.rendered import DicomWebRetrieveRenderedOperator
from airflow_dicomweb.operators.retrieve import DicomWebRetrieveOperator
from airflow_dicomweb.operators.search import DicomWebSearchOperator
from tests.connections import connection_json
from tests.fakes.fake_server import FakeServer

HOSTILE = ["../../escaped", "/etc/escaped", "1.2/../../../escaped", "..", "1.2.3\n"]
GOOD = "1.2.3"


def files_outside(root, dest) -> list:
    return [p for p in root.rglob("*") if p.is_file() and dest not in p.parents]


@pytest.fixture
def server(monkeypatch):
    """A server that answers everything (a search with hostile UIDs among them); requests are recorded."""
    hostile_item = {
        "0020000D": {"vr": "UI", "Value": [GOOD]},
        "0020000E": {"vr": "UI", "Value": ["../../../escaped"]},
        "00080018": {"vr": "UI", "Value": ["1.2.3.4.5"]},
    }

    def handler(request):
        if request.path.endswith("/rendered"):
            return 200, {"Content-Type": "image/png"}, b"\x89PNG"
        return 200, {"Content-Type": "application/dicom+json"}, json.dumps([hostile_item]).encode()

    with FakeServer(handler) as fake:
        monkeypatch.setenv("AIRFLOW_CONN_HOSTILE", connection_json(fake.url, extra={"max_retries": 0}))
        yield fake


def operators(hostile: str, dest) -> dict:
    common = {"dicomweb_conn_id": "hostile"}
    return {
        "search": DicomWebSearchOperator(
            task_id="s",
            study_instance_uid=hostile,
            level="series",
            output_path=f"{dest}/{{study_instance_uid}}.json",
            **common,
        ),
        "metadata": DicomWebRetrieveMetadataOperator(
            task_id="m",
            study_instance_uid=hostile,
            output_path=f"{dest}/{{study_instance_uid}}.json",
            **common,
        ),
        "rendered": DicomWebRetrieveRenderedOperator(
            task_id="r",
            study_instance_uid=hostile,
            series_instance_uid=GOOD,
            sop_instance_uid=GOOD,
            output_path=f"{dest}/{{study_instance_uid}}.png",
            **common,
        ),
        "bulkdata": DicomWebRetrieveBulkdataOperator(
            task_id="b",
            bulkdata_uri="bulk/1",
            study_instance_uid=hostile,
            output_path=f"{dest}/{{study_instance_uid}}.raw",
            **common,
        ),
        "bulkdata-tag-path": DicomWebRetrieveBulkdataOperator(
            task_id="t",
            study_instance_uid=GOOD,
            series_instance_uid=GOOD,
            sop_instance_uid=GOOD,
            tag_path=hostile,
            output_path=f"{dest}/{{tag_path}}.raw",
            **common,
        ),
        "retrieve": DicomWebRetrieveOperator(
            task_id="d", study_instance_uid=hostile, dest_dir=f"{dest}/{{study_instance_uid}}", **common
        ),
    }


@pytest.mark.parametrize("hostile", HOSTILE)
@pytest.mark.parametrize(
    "operator", ["search", "metadata", "rendered", "bulkdata", "bulkdata-tag-path", "retrieve"]
)
def test_a_traversal_placeholder_is_refused_before_anything_is_written_or_fetched(
    server, tmp_path, operator, hostile
):
    dest = tmp_path / "dest"
    with pytest.raises(ValueError) as caught:
        operators(hostile, dest)[operator].execute({})
    assert repr(hostile.strip())[1:-1][:20] in str(caught.value) or "tag path" in str(caught.value)
    assert server.requests == []
    assert files_outside(tmp_path, dest) == []
    assert not dest.exists() or not any(dest.rglob("*"))


def test_a_hostile_uid_from_the_servers_own_search_never_names_a_file(server, tmp_path):
    """Rendering a study's preview takes the series and instance from a search: the server's answer is
    validated like any template value."""
    dest = tmp_path / "dest"
    op = DicomWebRetrieveRenderedOperator(
        task_id="r",
        study_instance_uid=GOOD,
        dicomweb_conn_id="hostile",
        output_path=f"{dest}/{{series_instance_uid}}.png",
    )
    with pytest.raises(InvalidUIDError, match="escaped"):
        op.execute({})
    assert files_outside(tmp_path, dest) == [] and not dest.exists()


@pytest.mark.parametrize(
    "template",
    ["{study_instance_uid.__class__}", "{study_instance_uid[0]}", "{study_instance_uid!r}", "{other}", "{0}"],
)
def test_only_plain_known_placeholders_are_allowed(server, tmp_path, template):
    op = DicomWebRetrieveMetadataOperator(
        task_id="m", study_instance_uid=GOOD, dicomweb_conn_id="hostile", output_path=f"{tmp_path}/{template}"
    )
    with pytest.raises(ValueError, match="not a placeholder paths may use"):
        op.execute({})
    assert server.requests == [] and list(tmp_path.iterdir()) == []


def test_good_values_fill_the_path(server, tmp_path):
    op = DicomWebRetrieveMetadataOperator(
        task_id="m",
        study_instance_uid=GOOD,
        dicomweb_conn_id="hostile",
        output_path=f"{tmp_path}/meta/{{study_instance_uid}}.json",
    )
    assert op.execute({}) == str(tmp_path / "meta" / f"{GOOD}.json")

"""The dicomweb:// asset scheme through Airflow's own Asset machinery, and the asset events the store,
retrieve and delete operators record on a real Orthanc."""

import json

import pytest
from airflow.sdk import Asset, AssetAlias
from airflow.sdk.execution_time.context import OutletEventAccessors
from pydicom.uid import generate_uid

from airflow_dicomweb.assets.dicomweb import convert_asset_to_openlineage, create_asset, dicomweb_uri
from airflow_dicomweb.operators.delete import DicomWebDeleteOperator
from airflow_dicomweb.operators.retrieve import DicomWebRetrieveOperator
from airflow_dicomweb.operators.store import DicomWebStoreOperator
from tests.dicom_factory import make_series

STUDY = "1.2.840.113619.2.55.3"


def test_airflow_normalises_dicomweb_uris_through_the_registered_handler():
    asset = Asset(uri="dicomweb://PACS.Example:8042//dicom-web/studies/1.2.3/")
    assert asset.uri == "dicomweb://pacs.example:8042/dicom-web/studies/1.2.3"
    assert Asset(uri="dicomweb://[::1]:8042/dw").uri == "dicomweb://[::1]:8042/dw"
    for bad, reason in [
        ("dicomweb://h/dw/studies/abc", "not a DICOM UID"),
        ("dicomweb://h/dw/studies", "without a UID"),
        ("dicomweb://h/dw?x=1", "query"),
        ("dicomweb:///dw", "host"),
    ]:
        with pytest.raises(ValueError, match=reason):
            Asset(uri=bad)
    with pytest.warns(UserWarning, match="password"):  # Airflow drops user information before us
        assert Asset(uri="dicomweb://user:pw@h/dw").uri == "dicomweb://h/dw"


def test_uris_of_services_studies_and_series_and_their_lineage_dataset():
    root = "https://user:secret@PACS.example:8443/dicom-web/"
    assert dicomweb_uri(root) == "dicomweb://pacs.example:8443/dicom-web"
    assert (
        dicomweb_uri(root, STUDY, "1.2.3")
        == f"dicomweb://pacs.example:8443/dicom-web/studies/{STUDY}/series/1.2.3"
    )
    asset = create_asset(service_root=root, study_instance_uid=STUDY)
    assert asset.uri == Asset(uri=asset.uri).uri  # already normal
    dataset = convert_asset_to_openlineage(asset)
    assert (dataset.namespace, dataset.name) == (
        "dicomweb://pacs.example:8443",
        f"/dicom-web/studies/{STUDY}",
    )


def test_store_retrieve_and_delete_record_one_event_per_study_on_the_store_asset(
    orthanc_conn_id, orthanc_delete_conn_id, clean_orthanc, tmp_path
):
    alias = AssetAlias("dicomweb-studies")
    service = Asset(uri=dicomweb_uri(clean_orthanc.dicomweb_url))
    studies = [generate_uid(), generate_uid()]
    for n, uid in enumerate(studies):
        make_series(tmp_path / "in" / str(n), 2 + n, study_uid=uid, rows=16, columns=16)
    events = OutletEventAccessors()
    store = DicomWebStoreOperator(
        task_id="store",
        files=str(tmp_path / "in"),
        dicomweb_conn_id=orthanc_conn_id,
        outlets=[alias, service],
    )
    store.execute({"outlet_events": events})
    store_uri = dicomweb_uri(clean_orthanc.dicomweb_url)
    # the alias: one event per study, all on the store's one asset, each extra naming its study
    recorded = {e.extra["study_instance_uid"]: e for e in events[alias].asset_alias_events}
    assert set(recorded) == set(studies)
    assert {e.dest_asset_key.uri for e in recorded.values()} == {store_uri}
    sizes = {
        uid: sum(p.stat().st_size for p in (tmp_path / "in" / str(n)).iterdir())
        for n, uid in enumerate(studies)
    }
    for uid, event in recorded.items():
        extra = event.extra
        assert extra["operation"] == "store"
        assert extra["instances"] == 2 + studies.index(uid) and extra["bytes"] == sizes[uid]
        assert extra["dicomweb_conn_id"] == orthanc_conn_id and len(extra["series_instance_uids"]) == 1
    # the store's asset: the studies are its partition keys, the summary its extra
    assert events[service].partition_keys == set(studies)
    summary = events[service].extra
    assert summary["instances"] == 5 and summary["studies"] == 2 and summary["bytes"] == sum(sizes.values())
    assert clean_orthanc.password not in json.dumps([summary, *(e.extra for e in recorded.values())])

    events = OutletEventAccessors()
    DicomWebRetrieveOperator(
        task_id="retrieve",
        study_instance_uid=studies[1],
        dest_dir=str(tmp_path / "out"),
        dicomweb_conn_id=orthanc_conn_id,
        outlets=[alias],
    ).execute({"outlet_events": events})
    (event,) = events[alias].asset_alias_events
    assert event.dest_asset_key.uri == store_uri and event.extra["study_instance_uid"] == studies[1]
    on_disk = sum(p.stat().st_size for p in (tmp_path / "out").rglob("*.dcm"))
    assert event.extra["operation"] == "retrieve" and event.extra["instances"] == 3
    assert event.extra["bytes"] >= on_disk > 0

    events = OutletEventAccessors()
    DicomWebDeleteOperator(
        task_id="delete",
        study_instance_uid=studies[0],
        dicomweb_conn_id=orthanc_delete_conn_id,
        outlets=[alias],
    ).execute({"outlet_events": events})
    (event,) = events[alias].asset_alias_events
    assert event.extra["operation"] == "delete" and event.extra["study_instance_uid"] == studies[0]


def test_no_outlets_no_events_and_a_failed_store_announces_only_what_landed(orthanc_conn_id, tmp_path):
    make_series(tmp_path, 2)
    events = OutletEventAccessors()
    DicomWebStoreOperator(task_id="s", files=str(tmp_path), dicomweb_conn_id=orthanc_conn_id).execute(
        {"outlet_events": events}
    )
    assert not events._dict
    (tmp_path / "bad.dcm").write_text("junk")
    alias = AssetAlias("a")
    DicomWebStoreOperator(
        task_id="s2",
        files=str(tmp_path),
        dicomweb_conn_id=orthanc_conn_id,
        outlets=[alias],
        fail_on_error=False,
    ).execute({"outlet_events": events})
    (event,) = events[alias].asset_alias_events
    assert event.extra["instances"] == 2  # already present counts; the junk file does not


def test_openlineage_datasets_of_store_retrieve_search_and_delete(
    orthanc_conn_id, orthanc_delete_conn_id, clean_orthanc, tmp_path, bucket
):
    from airflow_dicomweb.operators.search import DicomWebSearchOperator

    namespace = "dicomweb://" + clean_orthanc.dicomweb_url.split("//", 1)[1].split("/", 1)[0]
    uid = generate_uid()
    make_series(tmp_path / "in", 2, study_uid=uid, rows=16, columns=16)
    store = DicomWebStoreOperator(
        task_id="store", files=str(tmp_path / "in"), dicomweb_conn_id=orthanc_conn_id
    )
    store.execute({})
    lineage = store.get_openlineage_facets_on_complete(None)
    assert [(d.namespace, d.name) for d in lineage.inputs] == [("file", str(tmp_path / "in"))]
    assert [(d.namespace, d.name) for d in lineage.outputs] == [(namespace, f"/dicom-web/studies/{uid}")]

    retrieve = DicomWebRetrieveOperator(
        task_id="retrieve",
        study_instance_uid=uid,
        dest_dir=f"{bucket}/export/{{study_instance_uid}}",
        dicomweb_conn_id=orthanc_conn_id,
    )
    retrieve.execute({})
    lineage = retrieve.get_openlineage_facets_on_complete(None)
    assert [(d.namespace, d.name) for d in lineage.inputs] == [(namespace, f"/dicom-web/studies/{uid}")]
    assert [(d.namespace, d.name) for d in lineage.outputs] == [
        ("s3://" + bucket.split("@")[1], f"export/{uid}")
    ]

    search = DicomWebSearchOperator(
        task_id="search",
        level="studies",
        output_path=str(tmp_path / "found.json"),
        dicomweb_conn_id=orthanc_conn_id,
    )
    search.execute({})
    lineage = search.get_openlineage_facets_on_complete(None)
    assert [(d.namespace, d.name) for d in lineage.inputs] == [(namespace, "/dicom-web")]
    assert [(d.namespace, d.name) for d in lineage.outputs] == [("file", str(tmp_path / "found.json"))]

    delete = DicomWebDeleteOperator(
        task_id="delete", study_instance_uid=uid, dicomweb_conn_id=orthanc_delete_conn_id
    )
    delete.execute({})
    (dropped,) = delete.get_openlineage_facets_on_complete(None).outputs
    assert (dropped.namespace, dropped.name) == (namespace, f"/dicom-web/studies/{uid}")
    assert dropped.facets["lifecycleStateChange"].lifecycleStateChange.value == "DROP"

"""STOW-RS through the hook against the real Orthanc: what is on the server afterwards, file by file."""

import shutil

import pytest
from pydicom.uid import generate_uid

from airflow_dicomweb.core.errors import InvalidUIDError
from airflow_dicomweb.core.stow.result import Status
from tests.dicom_factory import make_instance, make_series


def test_store_a_folder_then_every_instance_is_on_the_server(hook, clean_orthanc, samples, tmp_path):
    for key, path in samples.items():
        shutil.copy(path, tmp_path / f"{key}.dcm")
    series = make_series(tmp_path / "nested" / "deeper", 5)

    result = hook.store_instances([tmp_path])

    assert result.ok, result.failed
    assert len(result.stored) == 4 + 5
    on_server = clean_orthanc.sop_instance_uids()
    assert {o.sop_instance_uid for o in result.stored} == on_server
    for outcome in result.stored:
        assert outcome.retrieve_url.endswith(outcome.sop_instance_uid)
        assert outcome.http_status == 200
    assert result.summary()["stored"] == 9
    assert str(series[0]) in {o.path for o in result.outcomes}


def test_bad_inputs_fail_alone_and_name_the_culprit(hook, clean_orthanc, samples, tmp_path):
    good = make_series(tmp_path / "good", 3)
    (tmp_path / "notes.txt").write_text("not DICOM")
    (tmp_path / "empty.dcm").write_bytes(b"")
    truncated = tmp_path / "truncated.dcm"
    truncated.write_bytes(good[0].read_bytes()[:-1000])
    no_sop = tmp_path / "no_sop.dcm"
    make_instance(no_sop, study_uid=generate_uid(), series_uid=generate_uid())
    import pydicom

    ds = pydicom.dcmread(no_sop)
    del ds.SOPInstanceUID
    ds.save_as(no_sop)

    result = hook.store_instances(
        [
            *good,
            tmp_path / "notes.txt",
            tmp_path / "empty.dcm",
            truncated,
            no_sop,
            tmp_path / "missing.dcm",
            str(tmp_path / "nothing" / "*.dcm"),
        ]
    )

    assert len(result.stored) == 3
    reasons = {o.path: o.reason for o in result.failed}
    assert "not a DICOM Part 10 file" in reasons[str(tmp_path / "notes.txt")]
    assert "empty file" in reasons[str(tmp_path / "empty.dcm")]
    assert "truncated" in reasons[str(truncated)]
    assert "no SOPInstanceUID" in reasons[str(no_sop)]
    assert "no such file" in reasons[str(tmp_path / "missing.dcm")]
    assert "matches no file" in reasons[str(tmp_path / "nothing" / "*.dcm")]
    assert clean_orthanc.count_instances() == 3


def test_recursive_glob(hook, clean_orthanc, tmp_path):
    make_series(tmp_path / "a" / "b", 2)
    make_series(tmp_path / "c", 2)
    (tmp_path / "c" / "readme.txt").write_text("x")
    result = hook.store_instances([str(tmp_path / "**" / "*.dcm")])
    assert len(result.stored) == 4 and result.ok


def test_store_into_a_named_study_refuses_files_of_other_studies(hook, clean_orthanc, tmp_path):
    study = generate_uid()
    mine = make_series(tmp_path / "mine", 2, study_uid=study)
    other = make_series(tmp_path / "other", 1)
    result = hook.store_instances([*mine, *other], study_instance_uid=study)
    assert len(result.stored) == 2
    [failed] = result.failed
    assert failed.path == str(other[0]) and "not to the target study" in failed.reason
    assert clean_orthanc.count_instances() == 2
    with pytest.raises(InvalidUIDError, match=r"study_instance_uid '1\.2\.x'"):
        hook.store_instances(mine, study_instance_uid="1.2.x")


def test_same_sop_instance_twice_in_one_store_is_sent_once(hook, clean_orthanc, tmp_path):
    [first] = make_series(tmp_path / "a", 1)
    copy = tmp_path / "copy.dcm"
    shutil.copy(first, copy)
    result = hook.store_instances([first, copy], batch_files=1, concurrency=1)
    assert [o.status for o in result.outcomes] == [Status.STORED, Status.ALREADY_PRESENT]
    assert str(first) in result.outcomes[1].reason


def test_parallel_batches_report_every_file_once(hook, clean_orthanc, tmp_path):
    files = make_series(tmp_path, 40)
    seen = []
    result = hook.store_instances(files, concurrency=4, batch_files=3, progress=seen.append)
    assert [o.path for o in result.outcomes] == [str(f) for f in files]  # input order kept
    assert len(result.stored) == 40 and clean_orthanc.count_instances() == 40
    assert seen[-1].files_done == 40 and seen[-1].bytes_done == sum(f.stat().st_size for f in files)


@pytest.mark.parametrize("skip_existing", [True, False])
def test_headers_of_local_files_are_read_by_the_calling_thread(
    hook, clean_orthanc, tmp_path, monkeypatch, skip_existing
):
    """Reading a header is Python work that holds the GIL: in the store's threads it only contends with the
    sends (a third more CPU on small files). Every header is read once, by the caller."""
    import threading

    from airflow_dicomweb.core.stow import store as store_module

    readers = []
    real = store_module.read_instance_header

    def spy(path):
        readers.append(threading.current_thread().name)
        return real(path)

    monkeypatch.setattr(store_module, "read_instance_header", spy)
    files = make_series(tmp_path, 12)
    result = hook.store_instances(files, concurrency=4, batch_files=2, skip_existing=skip_existing)
    assert len(result.stored) == 12 and clean_orthanc.count_instances() == 12
    assert readers == [threading.current_thread().name] * 12


def test_instances_already_on_the_server_are_not_sent_again(hook, clean_orthanc, tmp_path):
    first = make_series(tmp_path / "a", 3)
    assert len(hook.store_instances(first).stored) == 3
    more = make_series(tmp_path / "b", 2)

    sent_parts = []
    real_request = hook.transport.session.request

    def spy(method, url, **kwargs):  # counts what goes on the wire to the real Orthanc
        if method == "POST":
            sent_parts.append(len(kwargs["data"].parts))
        return real_request(method, url, **kwargs)

    hook.transport.session.request = spy
    result = hook.store_instances([*first, *more])
    assert [o.status for o in result.outcomes] == [Status.ALREADY_PRESENT] * 3 + [Status.STORED] * 2
    assert "found by search before sending" in result.outcomes[0].reason
    assert sum(sent_parts) == 2  # only the new instances were sent
    assert clean_orthanc.count_instances() == 5
    # Without the check, Orthanc answers 200 for a duplicate and it would look newly stored:
    blind = hook.store_instances(first, skip_existing=False)
    assert [o.status for o in blind.outcomes] == [Status.STORED] * 3


def test_the_pre_check_asks_about_series_at_once_not_one_after_another(clean_orthanc, tmp_path):
    """On a server that does not match UID lists, one-instance series (CR, DX) make one pre-check search
    per instance: they overlap, within the store's concurrency, instead of adding a round trip per instance
    before the first byte is sent. (The front answers a list of UIDs as a server reading it as one literal
    UID would: nothing.)"""
    import json
    import threading
    import time

    from airflow_dicomweb.core.client import DicomWebClient
    from tests.connections import FAST_RETRY_EXTRAS
    from tests.emulators.orthanc_front import OrthancFront

    lock = threading.Lock()
    in_flight = {"now": 0, "most": 0, "searches": 0}

    def slow_searches(request):
        if request.method == "GET" and "SOPInstanceUID=" in request.query:
            return 200, {"Content-Type": "application/dicom+json"}, json.dumps([]).encode()
        if request.method == "GET" and "/series/" in request.path and request.path.endswith("/instances"):
            with lock:
                in_flight["now"] += 1
                in_flight["searches"] += 1
                in_flight["most"] = max(in_flight["most"], in_flight["now"])
            time.sleep(0.2)  # a distant server's round trip
            with lock:
                in_flight["now"] -= 1
        return None

    from airflow_dicomweb.core.qido.list_matching import forget

    forget()
    assert clean_orthanc.rest("POST", "/instances", data=make_series(tmp_path / "held", 2)[0].read_bytes()).ok
    assert clean_orthanc.rest(
        "POST", "/instances", data=sorted((tmp_path / "held").iterdir())[1].read_bytes()
    ).ok
    files = [f for n in range(8) for f in make_series(tmp_path / str(n), 1)]
    with OrthancFront(clean_orthanc, slow_searches, prefix="/dicom-web") as front:
        client = DicomWebClient.from_url(
            front.dicomweb_url,
            login=clean_orthanc.username,
            password=clean_orthanc.password,
            **FAST_RETRY_EXTRAS,
        )
        with client:
            result = client.store_instances(files, concurrency=4)
    assert len(result.stored) == 8
    assert in_flight["searches"] == 8 and in_flight["most"] > 1


def test_one_instance_studies_cost_under_half_a_request_each_with_uid_lists(clean_orthanc, tmp_path):
    """With ``server: orthanc`` (its QIDO-RS matches lists of UIDs), the pre-check names about 60 SOP
    Instance UIDs per search: 150 one-instance studies, 50 of them already stored, cost 3 searches (the one
    that found some but fewer than it named asks the next page too, to be sure: 4 requests) and the POSTs
    of the 100 others, and the 50 are reported as already present, not sent."""
    from airflow_dicomweb.core.client import DicomWebClient
    from tests.connections import FAST_RETRY_EXTRAS
    from tests.emulators.orthanc_front import OrthancFront

    files = [f for n in range(150) for f in make_series(tmp_path / str(n), 1, rows=8, columns=8)]
    seen: list[tuple[str, str]] = []

    def count(request):
        seen.append((request.method, request.path))
        return None

    with OrthancFront(clean_orthanc, count, prefix="/dicom-web") as front:
        client = DicomWebClient.from_url(
            front.dicomweb_url,
            login=clean_orthanc.username,
            password=clean_orthanc.password,
            server="orthanc",
            **FAST_RETRY_EXTRAS,
        )
        with client:
            assert client.store_instances(files[:50], skip_existing=False).ok
            seen.clear()
            result = client.store_instances(files, batch_files=16)
    assert len(result.stored) == 100 and len(result.already_present) == 50
    assert {o.path for o in result.already_present} == {str(f) for f in files[:50]}
    searches = [p for m, p in seen if m == "GET"]
    posts = [p for m, p in seen if m == "POST"]
    assert searches == ["/dicom-web/instances"] * 4, searches
    assert len(posts) == 7  # 100 instances, 16 a request
    assert len(seen) / len(files) <= 0.5
    assert clean_orthanc.count_instances() == 150


@pytest.mark.parametrize("server", ["orthanc", "tiny_pacs"])
def test_the_default_profile_learns_uid_list_matching_from_the_server(server, request, tmp_path):
    """With the connection left at ``server: auto`` (a loopback URL tells nothing), the store learns whether
    the server matches UID lists by asking it about instances it holds, once. Orthanc does: 150 one-instance
    studies (50 stored already) then cost the two questions and a search per ~60 instances, not one per
    study. tiny_pacs has no instance search at the service root (404), nor list matching at the study level:
    it is asked series by series, as before. Either way the 50 are found and not sent."""
    from airflow_dicomweb.core.client import DicomWebClient
    from airflow_dicomweb.core.qido.list_matching import forget
    from tests.connections import FAST_RETRY_EXTRAS

    forget()
    if server == "orthanc":
        target = request.getfixturevalue("clean_orthanc")
        auth = {"login": target.username, "password": target.password}
        at_once = {}
    else:
        target = request.getfixturevalue("tiny_pacs")
        auth = {"auth_type": "bearer", "password": target.token}
        at_once = {
            "concurrency": 1
        }  # tiny_pacs refuses concurrent STOW-RS (its profile says so; auto cannot)
    files = [f for n in range(150) for f in make_series(tmp_path / str(n), 1, rows=8, columns=8)]
    client = DicomWebClient.from_url(target.dicomweb_url, **auth, **FAST_RETRY_EXTRAS)
    profile = client.transport.settings.profile
    assert profile.name == "generic" and profile.uid_list_matching is None
    made: list[tuple[str, str]] = []
    with client:
        assert client.store_instances(files[:50], skip_existing=False, **at_once).ok
        client.transport.session.hooks["response"].append(
            lambda response, **_: made.append((response.request.method, response.url))
        )
        result = client.store_instances(files, batch_files=16, **at_once)
    assert len(result.stored) == 100 and len(result.already_present) == 50
    searches = [url for method, url in made if method == "GET"]
    if server == "orthanc":
        assert len(searches) <= 2 + 4, [s[:90] for s in searches]  # the two questions, ~60 instances a search
        assert len(made) / len(files) <= 0.5
    else:
        assert searches[0].endswith("/instances?limit=2")  # the one question, refused (404)
        assert sum("/series/" in url for url in searches) >= 150  # then series by series, as before

"""The store's pre-check, against a scripted search: how it asks, and what it believes."""

from concurrent.futures import ThreadPoolExecutor

from airflow_dicomweb.core.dicom.instance_header import InstanceHeader
from airflow_dicomweb.core.errors import DicomWebHTTPError
from airflow_dicomweb.core.servers.profile import ServerProfile
from airflow_dicomweb.core.stow.pre_check import PreCheck, uid_chunks


def header(study: str, series: str, sop: str) -> InstanceHeader:
    return InstanceHeader(
        study_instance_uid=study,
        series_instance_uid=series,
        sop_instance_uid=sop,
        sop_class_uid="1.2.840.10008.5.1.4.1.1.7",
        transfer_syntax_uid="1.2.840.10008.1.2.1",
        size=100,
    )


def item(study: str, sop: str) -> dict:
    return {"0020000D": {"vr": "UI", "Value": [study]}, "00080018": {"vr": "UI", "Value": [sop]}}


class ScriptedSearch:
    def __init__(self, lists: bool, held: dict[str, str], ignore_lists: bool = False, fail: bool = False):
        self.profile = ServerProfile(name="scripted", uid_list_matching=lists)
        self.held = held  # SOP -> study
        self.ignore_lists = ignore_lists
        self.fail = fail
        self.calls: list[dict] = []

    def iter_search(self, level, **kw):
        self.calls.append(kw)
        if self.fail:
            raise DicomWebHTTPError(500, method="GET", url="http://server/instances")
        if "filters" in kw:
            asked = kw["filters"]["SOPInstanceUID"]
            for sop, study in self.held.items():
                if self.ignore_lists or sop in asked:
                    yield item(study, sop)
        else:
            for sop, study in self.held.items():
                if study == kw["study_instance_uid"]:
                    yield item(study, sop)


def check(search, headers):
    with ThreadPoolExecutor(2) as pool:
        return PreCheck(search, pool).held(headers)


def test_uid_lists_ask_in_chunks_and_believe_only_the_same_study():
    headers = [header(f"1.2.{n}", f"1.3.{n}", f"1.4.{n:060d}") for n in range(200)]
    held = {h.sop_instance_uid: h.study_instance_uid for h in headers[:30]}
    held[headers[30].sop_instance_uid] = "9.9.9"  # the same SOP Instance UID in another study
    search = ScriptedSearch(lists=True, held=held)
    assert check(search, headers) == {h.sop_instance_uid for h in headers[:30]}
    chunks = [c["filters"]["SOPInstanceUID"] for c in search.calls]
    assert sum(len(c) for c in chunks) == 200 and len(chunks) == len(list(uid_chunks(headers)))
    assert all(len(",".join(c)) <= 4000 for c in chunks) and len(chunks) == 4
    assert all(c["limit"] == len(c["filters"]["SOPInstanceUID"]) for c in search.calls)


def test_a_server_that_ignores_the_list_is_asked_series_by_series():
    headers = [header("1.2.1", "1.3.1", "1.4.1"), header("1.2.2", "1.3.2", "1.4.2")]
    search = ScriptedSearch(lists=True, held={"1.4.2": "1.2.2", "1.4.77": "1.2.77"}, ignore_lists=True)
    assert check(search, headers) == {"1.4.2"}
    assert [c.get("series_instance_uid") for c in search.calls] == [None, "1.3.1", "1.3.2"]


def test_without_uid_lists_one_search_per_series_and_a_failed_search_sends_all():
    headers = [
        header("1.2.1", "1.3.1", "1.4.1"),
        header("1.2.1", "1.3.1", "1.4.2"),
        header("1.2.2", "1.3.2", "1.4.3"),
    ]
    search = ScriptedSearch(lists=False, held={"1.4.1": "1.2.1", "1.4.3": "1.2.2"})
    assert check(search, headers) == {"1.4.1", "1.4.3"}
    assert sorted(c["series_instance_uid"] for c in search.calls) == ["1.3.1", "1.3.2"]
    assert check(ScriptedSearch(lists=True, held={"1.4.1": "1.2.1"}, fail=True), headers) == set()


class LearningSearch:
    """A search of a server whose profile says nothing of UID lists: ``mode`` is what it does with one
    (``match``, ``literal``: reads it as one UID, ``ignore``: answers everything, ``fail``: 400)."""

    def __init__(self, mode: str, held: dict[str, str], root: str) -> None:
        self.profile = ServerProfile(name="generic")
        self.held = held
        self.mode = mode
        self.calls: list[dict] = []
        self.transport = type("T", (), {"url": lambda _self: root, "redact": lambda _self, u: u})()

    def iter_search(self, level, **kw):
        self.calls.append(kw)
        asked = (kw.get("filters") or {}).get("SOPInstanceUID")
        if asked is not None and self.mode == "fail":
            raise DicomWebHTTPError(400, method="GET", url="http://server/instances")
        found = []
        for sop, study in self.held.items():
            if kw.get("study_instance_uid") not in (None, study):
                continue
            if asked is None or self.mode == "ignore" or (self.mode == "match" and sop in asked):
                found.append(item(study, sop))
        yield from found[: kw.get("limit") or None]


def test_list_matching_is_learned_once_from_instances_the_server_holds():
    from airflow_dicomweb.core.qido.list_matching import forget

    forget()
    held = {f"1.4.{n}": f"1.2.{n}" for n in range(5)}
    headers = [header(f"1.2.{n}", f"1.3.{n}", f"1.4.{n}") for n in range(3, 40)]
    matching = LearningSearch("match", held, "http://a/dicom-web")
    assert check(matching, headers) == {"1.4.3", "1.4.4"}
    probes = matching.calls[:2]
    assert probes[0] == {"limit": 2} and probes[1]["filters"]["SOPInstanceUID"] == ["1.4.1", "2.25.0"]
    assert len(matching.calls) == 3  # two probes, then one list search for the 37 instances
    again = LearningSearch("match", held, "http://a/dicom-web")
    check(again, headers)
    assert len(again.calls) == 1  # remembered for the service root
    for mode in ("literal", "ignore", "fail"):
        other = LearningSearch(mode, held, f"http://{mode}/dicom-web")
        assert check(other, headers) == {"1.4.3", "1.4.4"}, mode
        assert all("series_instance_uid" in c for c in other.calls[2:]), mode  # series by series


def test_a_server_holding_fewer_than_two_instances_needs_no_search():
    from airflow_dicomweb.core.qido.list_matching import forget

    forget()
    headers = [header(f"1.2.{n}", f"1.3.{n}", f"1.4.{n}") for n in range(50)]
    empty = LearningSearch("literal", {}, "http://empty/dicom-web")
    assert check(empty, headers) == set() and len(empty.calls) == 1
    one = LearningSearch("literal", {"1.4.7": "1.2.7"}, "http://one/dicom-web")
    assert check(one, headers) == {"1.4.7"} and len(one.calls) == 1

"""``server: tiny-pacs``: tiny_pacs with its DICOMweb front-end (tiny-pacs-dicomweb).

It caps QIDO-RS pages at 10,000 results without saying so, answers 204 to an empty search, has no
study-level instance search (``/studies/{uid}/instances``: a retrieve then does without the listing), and
refuses a duplicate with 409 and FailureReason 0x0110 and no FailureDetail. Its SQLite database takes one
store at a time: under concurrent STOW-RS requests it answers the same 409 and 0x0110 to instances it did not
store ("database table is locked" in its log, or two requests creating one new study), and some it then
never stores, answering 0x0110 to every new try while no search or retrieve finds them. So stores to it are
sent one request at a time, and a 0x0110 is read as "stored already" only once a search finds the instance
(the others are sent again, a few times, then named as failed). Its URL does not tell it apart: name it on the connection.
"""

from airflow_dicomweb.core.servers.profile import ServerProfile

PROFILE = ServerProfile(
    name="tiny-pacs",
    page_size_max={"studies": 10_000, "series": 10_000, "instances": 10_000},
    page_cap=10_000,
    empty_search_204=True,
    duplicate_failure_reasons=frozenset({0x0110}),
    stow_concurrency=1,
)

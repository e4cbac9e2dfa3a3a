"""``server: tiny-pacs``: tiny_pacs with its DICOMweb front-end (tiny-pacs-dicomweb).

It caps QIDO-RS pages at 10,000 results without saying so, answers 204 to an empty search, has no
study-level instance search (``/studies/{uid}/instances``: a retrieve then does without the listing), and
refuses a duplicate with 409 and FailureReason 0x0110 and no FailureDetail. It answers the same to an instance
it did not store because another request was creating its study at that moment (two STOW-RS requests into one
new study at once): so 0x0110 is read as "stored already" only once a search finds the instance there; the
others are sent again. Its URL does not tell it apart: name it on the connection.
"""

from airflow_dicomweb.core.servers.profile import ServerProfile

PROFILE = ServerProfile(
    name="tiny-pacs",
    page_size_max={"studies": 10_000, "series": 10_000, "instances": 10_000},
    page_cap=10_000,
    empty_search_204=True,
    duplicate_failure_reasons=frozenset({0x0110}),
)

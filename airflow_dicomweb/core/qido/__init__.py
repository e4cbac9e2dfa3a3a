"""QIDO-RS, the search transaction (PS3.18 section 10.6): query strings (:mod:`.query`), paging past server
caps (:mod:`.search`), answers parsed as they arrive (:mod:`.json_stream`), and the study-arrival poll that
watches for new studies (:mod:`.study_arrivals`)."""

from airflow_dicomweb.core.qido.search import KEY_TAG, LEVELS, Search

__all__ = ["KEY_TAG", "LEVELS", "Search"]

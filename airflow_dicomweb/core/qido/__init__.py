"""QIDO-RS, the search transaction (PS3.18 section 10.6): query strings (:mod:`.query`), paging past server
caps (:mod:`.search`), and answers parsed as they arrive (:mod:`.json_stream`). The study-arrival poll over a
search is :mod:`airflow_dicomweb.core.arrivals.search`'s."""

from airflow_dicomweb.core.qido.search import KEY_TAG, LEVELS, Search

__all__ = ["KEY_TAG", "LEVELS", "Search"]

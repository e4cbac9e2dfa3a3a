"""``server: orthanc``: Orthanc with its DICOMweb plugin.

Its plugin has no DICOMweb DELETE (405), so deletes go through Orthanc's own REST API; its Debian build does
not percent-decode query strings, so ``^`` is sent as ``?``. Empty searches answer ``[]``. Both can still be
set otherwise on the connection (``delete_api``, ``caret_as_wildcard``). A QIDO-RS filter of comma-separated
UIDs matches any of them (checked on Orthanc 1.10 with its DICOMweb plugin 1.7: ``SOPInstanceUID=a,b,c`` at
``/instances``), so the store's pre-check names many instances per search.
"""

from airflow_dicomweb.core.servers.profile import ServerProfile

PROFILE = ServerProfile(
    name="orthanc",
    delete_api="orthanc",
    operations="none",
    caret_as_wildcard=True,
    uid_list_matching=True,
)

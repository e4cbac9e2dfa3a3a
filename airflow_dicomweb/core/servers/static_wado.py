"""``server: static-wado``: OHIF's static-wado webserver (a DICOMweb tree made by ``mkdicomweb``).

It has no study- or series-level retrieve (retrieves fan out through series metadata), no instance-level
search, ignores QIDO-RS ``limit`` and ``offset`` (every match comes in one answer), writes relative
BulkDataURIs (``./frames``), and stores a duplicate again without a word. Its URL does not tell it apart:
name it on the connection.
"""

from airflow_dicomweb.core.servers.profile import ServerProfile

PROFILE = ServerProfile(
    name="static-wado",
    study_retrieve=False,
    series_retrieve=False,
    honours_offset=False,
    operations="none",
)

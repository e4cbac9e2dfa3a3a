"""The feeds of changes servers keep, read checked and in order: Azure's change feed (``/changefeed``,
:mod:`.azure`) and Orthanc's REST ``/changes`` (:mod:`.orthanc`). The studies announced from them are
:mod:`airflow_dicomweb.core.arrivals`'s."""

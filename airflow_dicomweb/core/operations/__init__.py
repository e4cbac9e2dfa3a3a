"""Deletes and the long-running operations they start: an operation's state (:mod:`.state`), polling it
(:mod:`.polling`), deleting (:mod:`.delete`), and Orthanc's REST API for servers without DICOMweb DELETE
(:mod:`.orthanc_rest`)."""

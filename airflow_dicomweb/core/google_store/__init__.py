"""Google Cloud Healthcare beyond DICOMweb, for a Google DICOM store: the store's own long-running
operations (import from Cloud Storage, export to Cloud Storage or BigQuery, de-identification, storage
classes: :mod:`.bulk`), its metrics (:mod:`.metrics`), the store's names (:mod:`.resource`) and how a
finished bulk operation is judged (:mod:`.outcome`)."""

"""AWS HealthImaging's own API beside its DICOMweb: DICOM import jobs from S3 (``StartDICOMImportJob``)."""

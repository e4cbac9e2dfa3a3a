"""Copying studies from one DICOMweb service to another: streamed from WADO-RS into STOW-RS, resumable,
verified."""

"""DIMSE (PS3.7) with pynetdicom: the peer, associations, C-ECHO, C-FIND, C-GET and C-STORE, the same
shapes as the DICOMweb transactions (DICOM JSON results, files written atomically, one outcome per
instance)."""

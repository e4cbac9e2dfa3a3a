"""DICOM data the client reads or makes itself: the UIDs of a Part 10 file (from its first bytes, or its
header), and Secondary Capture instances made from JPEG images."""

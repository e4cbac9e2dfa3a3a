"""multipart/related bodies (RFC 2387), as DICOMweb uses them: a streaming decoder and a streaming,
re-iterable encoder."""

"""STOW-RS, the store transaction (PS3.18 section 10.5): inputs, batches and requests (:mod:`.store`), its
response (:mod:`.response`), per-file outcomes (:mod:`.result`), and JPEG images with metadata (:mod:`.jpeg`)."""

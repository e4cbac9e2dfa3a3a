"""Real servers the suite starts on loopback (Orthanc, tiny_pacs, moto), and the process helpers they share."""

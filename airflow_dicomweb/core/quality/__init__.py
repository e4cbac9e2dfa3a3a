"""The quality gate: checks an ingest runs before anything leaves the site (series completeness, one patient
per study, pixel data that decodes, names left in free text), each a module, with the findings and what they
quarantine (:mod:`.gate`)."""

"""De-identification on site (PS3.15 Annex E): the Basic Application Level Confidentiality Profile with keyed,
repeatable replacements (:mod:`.deidentifier`), its table as data (:mod:`.table`), the options a user may
retain (:mod:`.options`), the key (:mod:`.key`), the files in and out (:mod:`.files`)."""

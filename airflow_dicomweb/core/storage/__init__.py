"""Where files are read from and written to: one path type (:mod:`.paths`: a ``pathlib.Path`` on this machine,\na ``UPath`` elsewhere), written atomically, listed, its failures named."""

"""Where files are read from and written to: :class:`~.location.Location` (a local path or an fsspec object,
written atomically), and the one writer of retrieved instances."""

"""Azure's change feed (``/changefeed``): reading its entries, checked and in order (:mod:`.feed`). The
studies announced from it are :mod:`airflow_dicomweb.core.arrivals.change_feed`'s."""

"""Azure's change feed (``/changefeed``): reading its entries (:mod:`.feed`), and the studies that arrive,
announced from it exactly (:mod:`.study_arrivals`)."""

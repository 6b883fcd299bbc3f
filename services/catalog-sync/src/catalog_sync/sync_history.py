"""catalog-sync's part of the synchistory lib: its lanes and its history of runs."""

from __future__ import annotations

from enum import StrEnum

import synchistory


class Lane(StrEnum):
    # Listings report imports (initial, scheduled, and every run an operator asks for).
    CATALOG = "catalog"
    # getInventorySummaries for the FBA SKUs; a long import never delays it.
    FBA = "fba"


HISTORY = synchistory.SyncHistory("catalog-sync", lanes=Lane)

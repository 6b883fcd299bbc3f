"""stock-publisher's part of the synchistory lib: its lanes, the trigger it adds, and its history of runs."""

from __future__ import annotations

from enum import StrEnum

import synchistory


class Lane(StrEnum):
    PUSH = "push"  # compute what differs from what Amazon accepted and send it (patches or a feed)
    FOLLOW = "follow"  # follow submitted feeds to their end and read back what Amazon applied


class StockTrigger(StrEnum):
    # POST /admin/connections/{id}/stock-sync: send the SKUs (all or a list) even if Amazon already has them.
    STOCK_SYNC = "stock_sync"
    FEED = "feed"  # a feed finished: its processing report
    READ_BACK = "read_back"  # accepted quantities read back after Amazon's apply delay


HISTORY = synchistory.SyncHistory("stock-publisher", lanes=Lane, triggers=StockTrigger)

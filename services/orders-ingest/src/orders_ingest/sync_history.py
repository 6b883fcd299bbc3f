"""orders-ingest's part of the synchistory lib: its lanes, the triggers it adds, and its history of runs."""

from __future__ import annotations

from enum import StrEnum

import synchistory


class Lane(StrEnum):
    # Polls, cancellation checks and every run an operator asks for; a long one never delays notifications.
    POLL = "poll"
    NOTIFY = "notify"  # getOrder for ORDER_CHANGE notifications


class OrdersTrigger(StrEnum):
    CANCELLATION_CHECK = "cancellation_check"  # a cancellation-only search, hourly, for rarely polled connections
    NOTIFICATION = "notification"


HISTORY = synchistory.SyncHistory("orders-ingest", lanes=Lane, triggers=OrdersTrigger)

"""Amazon's default usage plans as token buckets per (seller, operation); `speedup` multiplies every rate.

Rates and bursts are the models' defaults (design/spapi-brief.md §12). JSON_LISTINGS_FEED submissions have
their own plan, 5 per 5 minutes, which replaces createFeed's generic one for that feed type.
"""

from __future__ import annotations

import dataclasses
import time

# operation -> (requests per second, burst)
RATES: dict[str, tuple[float, int]] = {
    "searchOrders": (0.0056, 20),
    "getOrder": (0.5, 30),
    "confirmShipment": (2.0, 10),
    "createFeedDocument": (0.5, 15),
    "createFeed": (0.0083, 15),
    "createFeed:JSON_LISTINGS_FEED": (5 / 300, 5),
    "getFeed": (2.0, 15),
    "cancelFeed": (2.0, 15),
    "getFeedDocument": (0.0222, 10),
    "getListingsItem": (5.0, 5),  # Amazon's current rate-limit page; the model text says 10
    "putListingsItem": (5.0, 10),
    "patchListingsItem": (5.0, 5),
    "getMarketplaceParticipations": (0.016, 15),
    "createReport": (0.0167, 15),
    "getReport": (2.0, 15),
    "getReportDocument": (0.0167, 15),
    "getInventorySummaries": (2.0, 2),
    # Notifications: every operation 1/5; grantless ones count against the application, not a seller.
    "createDestination": (1.0, 5),
    "getDestinations": (1.0, 5),
    "getDestination": (1.0, 5),
    "deleteDestination": (1.0, 5),
    "createSubscription": (1.0, 5),
    "getSubscription": (1.0, 5),
    "getSubscriptionById": (1.0, 5),
    "deleteSubscriptionById": (1.0, 5),
}


@dataclasses.dataclass(slots=True)
class Bucket:
    rate: float
    burst: int
    tokens: float
    stamp: float

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class RateLimiter:
    def __init__(self, speedup: float = 1.0) -> None:
        self.speedup = speedup
        self._buckets: dict[tuple[str, str], Bucket] = {}

    def rate(self, plan: str) -> float:
        return RATES[plan][0] * self.speedup

    def allow(self, seller_id: str, plan: str) -> bool:
        if plan not in RATES:
            return True
        bucket = self._buckets.get((seller_id, plan))
        now = time.monotonic()
        if bucket is None:
            rate, burst = RATES[plan]
            bucket = self._buckets[(seller_id, plan)] = Bucket(rate * self.speedup, burst, float(burst), now)
        return bucket.take(now)

    def reset(self) -> None:
        self._buckets.clear()


def header_value(rate: float) -> str:
    return f"{rate:.4f}".rstrip("0").rstrip(".") if rate < 100 else f"{rate:.0f}"

"""Amazon's default usage plans as token buckets per (seller, operation); `speedup` multiplies every rate.

Rates and bursts are the models' defaults (design/spapi-brief.md §12). JSON_LISTINGS_FEED submissions have
their own plan, 5 per 5 minutes, which replaces createFeed's generic one for that feed type. The Listings Items
operations are also limited per application, whichever seller: a call passes only if both buckets hold a token.
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
    "getFeeds": (0.0222, 10),
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

# operation -> (requests per second, burst) per application, over all sellers (listings-items-api-rate-limits).
# Amazon publishes no per-application burst; like our client we take a tenth of a second of rate, which a
# speed-up keeps (so the burst grows with it, unlike the per-seller bursts).
APPLICATION_RATES: dict[str, tuple[float, int]] = {
    "getListingsItem": (100.0, 10),
    "patchListingsItem": (500.0, 50),
    "putListingsItem": (100.0, 10),
    "deleteListingsItem": (100.0, 10),
}


@dataclasses.dataclass(slots=True)
class Bucket:
    rate: float
    burst: int
    tokens: float
    stamp: float

    def refill(self, now: float) -> float:
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return self.tokens

    def take(self, now: float) -> bool:
        if self.refill(now) >= 1:
            self.tokens -= 1
            return True
        return False


class RateLimiter:
    def __init__(self, speedup: float = 1.0) -> None:
        self.speedup = speedup
        self._buckets: dict[tuple[str, str], Bucket] = {}
        self._application: dict[str, Bucket] = {}
        self.refused_for_application = 0  # 429s the application's limit gave, whoever the seller

    def rate(self, plan: str) -> float:
        """The seller's rate: what x-amzn-RateLimit-Limit says (it never includes the per-application limit)."""
        return RATES[plan][0] * self.speedup

    def allow(self, seller_id: str, plan: str) -> bool:
        """One call of `plan` by `seller_id`: True and a token of each bucket taken, or False and none taken."""
        if plan not in RATES:
            return True
        now = time.monotonic()
        bucket = self._buckets.get((seller_id, plan))
        if bucket is None:
            rate, burst = RATES[plan]
            bucket = self._buckets[(seller_id, plan)] = Bucket(rate * self.speedup, burst, float(burst), now)
        application = self._application_bucket(plan, now)
        if application is None:
            return bucket.take(now)
        if bucket.refill(now) < 1:
            return False
        if not application.take(now):
            self.refused_for_application += 1
            return False
        bucket.tokens -= 1
        return True

    def _application_bucket(self, plan: str, now: float) -> Bucket | None:
        if plan not in APPLICATION_RATES:
            return None
        bucket = self._application.get(plan)
        if bucket is None:
            rate, burst = APPLICATION_RATES[plan]
            scaled_burst = max(2, int(burst * self.speedup))
            bucket = self._application[plan] = Bucket(rate * self.speedup, scaled_burst, float(scaled_burst), now)
        return bucket

    def reset(self) -> None:
        self._buckets.clear()
        self._application.clear()
        self.refused_for_application = 0


def header_value(rate: float) -> str:
    return f"{rate:.4f}".rstrip("0").rstrip(".") if rate < 100 else f"{rate:.0f}"

"""Patches or a feed, chosen from the seller's buckets (stock_publisher.domain.use_patches)."""

from __future__ import annotations

import spapi
from stock_publisher import domain


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def buckets(patch_tokens: float = 5, feed_tokens: float = 5) -> tuple[spapi.TokenBucket, spapi.TokenBucket, Clock]:
    """Amazon's plans: patchListingsItem 5/s burst 5, JSON_LISTINGS_FEED 5 per 300 s burst 5."""
    clock = Clock()
    patch = spapi.TokenBucket(spapi.RateLimit(5.0, 5), clock=clock)
    feed = spapi.TokenBucket(spapi.RateLimit(5 / 300, 5), clock=clock)
    for bucket, tokens in ((feed, feed_tokens), (patch, patch_tokens)):  # the feed's refill would fill the other
        bucket.drain()
        clock.now += tokens / bucket.rate  # refill to `tokens`
    return patch, feed, clock


def test_patches_while_the_patch_bucket_sends_them_within_the_window() -> None:
    patch, feed, _ = buckets()
    # 5 at once, then 5 per second: 20 SKUs in 3 s.
    assert domain.use_patches(20, patch, feed, window=3.0, max_skus=300)
    assert not domain.use_patches(21, patch, feed, window=3.0, max_skus=300)


def test_a_drained_patch_bucket_sends_fewer_within_the_window() -> None:
    patch, feed, _ = buckets(patch_tokens=0)
    assert domain.use_patches(15, patch, feed, window=3.0, max_skus=300)
    assert not domain.use_patches(16, patch, feed, window=3.0, max_skus=300)


def test_patches_at_the_buckets_rate_when_the_next_feed_slot_is_further_away() -> None:
    patch, feed, _ = buckets(feed_tokens=0)  # next JSON_LISTINGS_FEED slot in 59 s
    assert domain.use_patches(250, patch, feed, window=3.0, max_skus=300)  # 49 s of patches beat 59 s
    assert not domain.use_patches(306, patch, feed, window=3.0, max_skus=400)  # 60.2 s: the feed slot is sooner


def test_never_more_patches_than_the_upper_bound() -> None:
    patch, feed, _ = buckets(feed_tokens=0)
    assert not domain.use_patches(21, patch, feed, window=3.0, max_skus=20)
    assert domain.use_patches(20, patch, feed, window=3.0, max_skus=20)


def test_a_bucket_slowed_by_amazon_moves_the_choice() -> None:
    patch, feed, _ = buckets()
    patch.set_rate(1.0)  # x-amzn-RateLimit-Limit said 1 per second for this seller
    assert domain.use_patches(8, patch, feed, window=3.0, max_skus=300)
    assert not domain.use_patches(9, patch, feed, window=3.0, max_skus=300)

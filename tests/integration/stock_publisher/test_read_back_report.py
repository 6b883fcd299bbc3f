"""Many SKUs due for read-back: one listings report instead of a getListingsItem per SKU; drift still found."""

from __future__ import annotations

from datetime import timedelta

from aiokafka import AIOKafkaProducer
from testkit.sandbox import Sandbox

from .harness import Topicset, create_listings, fast, published, running
from .test_outcomes import _arrange


async def test_many_read_backs_use_the_listings_report_and_find_drift(
    database_url: str, kafka_bootstrap: str, sandbox: Sandbox, topics: Topicset, producer: AIOKafkaProducer
) -> None:
    skus = [f"X-{i:03d}" for i in range(300)]
    await create_listings(sandbox, skus)
    # 300 due at once; getListingsItem (500/s, burst 5 here) reads 155 in its 0.3 s window: the report is used.
    tuning = fast(apply_delay=timedelta(seconds=500), patch_max_skus=20)  # read back 5 s after acceptance
    async with running(
        database_url=database_url, kafka_bootstrap=kafka_bootstrap, sandbox=sandbox, topics=topics, tuning=tuning
    ) as h:
        await _arrange(h, producer, topics, skus)
        accepted = await published(kafka_bootstrap, topics, expect=300, timeout=30)
        assert {e.outcome for e in accepted} == {"accepted"} and {e.channel for e in accepted} == {"listings_feed"}
        # Something else changes Amazon's quantity before the read-back.
        await create_listings(sandbox, ["X-007"], quantity=3)
        events = await published(kafka_bootstrap, topics, expect=602, timeout=60)
    verdicts = [e for e in events if e.verification is not None]
    drifted = [e for e in verdicts if e.verification == "drifted"]
    assert [(e.sku, e.quantity, e.amazon_quantity) for e in drifted] == [("X-007", 12, 3)]
    applied = {e.sku: e for e in verdicts if e.verification == "applied"}
    assert set(applied) == set(skus)
    assert all(e.amazon_quantity == e.quantity for e in applied.values())
    assert len(sandbox.requests(operation="createReport")) == 1
    # The re-sent X-007 alone is read back by getListingsItem.
    assert len(sandbox.requests(operation="getListingsItem")) == 1
    resent = [e for e in events if e.sku == "X-007" and e.verification is None]
    assert len(resent) == 2 and resent[1].channel == "listings_api"

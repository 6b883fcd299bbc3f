"""A per-SKU handling-time override set by an operator, sent with the SKU's next update, cleared with null."""

from __future__ import annotations

from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
from testkit import eventually
from testkit.sandbox import Sandbox

from .harness import Topicset, connection_event, create_listings, listing_event, running, send, stock_event

CONN = "conn-stock-handling"


def handling(sandbox: Sandbox, sku: str) -> list[int]:
    return [e["value"] for e in sandbox.ledger(sku=sku, kind="handling_time")]


async def _is(value: bool) -> bool:
    return value


async def test_an_override_is_sent_and_cleared_and_bad_input_is_refused(
    database_url: str, kafka_bootstrap: str, sandbox: Sandbox, topics: Topicset, producer: AIOKafkaProducer
) -> None:
    await create_listings(sandbox, ["H1", "H2"])
    now = datetime.now(UTC)
    async with running(database_url=database_url, kafka_bootstrap=kafka_bootstrap, sandbox=sandbox, topics=topics) as h:
        await send(producer, topics, [
            connection_event(CONN, stock_warehouse_ids=["W1"], handling_time_days=2),
            listing_event(CONN, "H1"),
            listing_event(CONN, "H2"),
            stock_event("H1", "W1", 4, now),
            stock_event("H2", "W1", 6, now),
        ])  # fmt: skip
        await eventually(lambda: _is(handling(sandbox, "H1") == [2] and handling(sandbox, "H2") == [2]), timeout=15)
        path = f"/admin/connections/{CONN}/skus/H1/handling-time"

        async with h.api("viewer") as api:
            assert (await api.put(path, json={"handling_time_days": 5})).status_code == 403
        async with h.api() as api:
            for bad in ({"handling_time_days": 0}, {"handling_time_days": 31}, {"handling_time_days": "soon"}, {}):
                refused = await api.put(path, json=bad)
                assert refused.status_code == 422, bad
                assert "handling_time_days" in refused.text
            nope = f"/admin/connections/{CONN}/skus/NOPE/handling-time"
            unknown = await api.put(nope, json={"handling_time_days": 5})
            assert unknown.status_code == 404 and "listing" in unknown.json()["detail"]

            # Only the handling time differs: the SKU is sent again, with its quantity, and H2 is not.
            assert (await api.put(path, json={"handling_time_days": 5})).status_code == 200
            await eventually(lambda: _is(handling(sandbox, "H1") == [2, 5]), timeout=15)
            assert sandbox.listing("H1")["handling_time"] == 5 and sandbox.listing("H1")["quantity"] == 4
            # The same override again changes nothing: nothing is sent.
            assert (await api.put(path, json={"handling_time_days": 5})).status_code == 200
            # null: the connection's default again, sent as such.
            cleared = await api.put(path, json={"handling_time_days": None})
            assert cleared.status_code == 200 and cleared.json()["handling_time_days"] is None
            await eventually(lambda: _is(handling(sandbox, "H1") == [2, 5, 2]), timeout=15)
        assert handling(sandbox, "H2") == [2]
        assert [e["value"] for e in sandbox.ledger(sku="H1", kind="quantity")] == [4, 4, 4]

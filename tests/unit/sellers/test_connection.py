"""sellers.Connection and the projection's routes, without a database."""

from __future__ import annotations

import copy
from typing import Any

import contracts
import httpx
import pytest
import sellers
import spapi
from contracts import ConnectionStatus, ConnectionUpdatedV1
from messaging import Rejected


def update(**changes: Any) -> ConnectionUpdatedV1:
    raw = {**copy.deepcopy(contracts.EXAMPLES["connection.updated"][0]), **changes}
    return ConnectionUpdatedV1.model_validate(raw)


def test_a_connection_from_an_event_and_from_its_row_are_equal() -> None:
    data = update(region="EU", marketplace_ids=["A1PA6795UKMFR9"], revision=7)
    connection = sellers.Connection.of(data)
    assert connection.region is spapi.Region.EU and connection.revision == 7
    row = {
        "connection_id": data.connection_id,
        "revision": 7,
        "status": data.status.value,
        "region": "EU",
        "marketplace_ids": ["A1PA6795UKMFR9"],
        "selling_partner_id": data.selling_partner_id,
        "settings": data.settings.model_dump_json(),
        "updated_at": None,
    }
    assert sellers.Connection.from_row(row) == connection


@pytest.mark.parametrize(
    ("status", "seller", "active", "callable_"),
    [
        ("active", "A3EXAMPLE8SELLER", True, True),
        ("active", None, True, False),
        ("pending", None, False, False),
        ("disabled", "A3EXAMPLE8SELLER", False, False),
        ("disconnected", "A3EXAMPLE8SELLER", False, False),
    ],
)
def test_active_and_callable(status: str, seller: str | None, active: bool, callable_: bool) -> None:
    connection = sellers.Connection.of(update(status=status, selling_partner_id=seller))
    assert connection.status == ConnectionStatus(status)
    assert (connection.active, connection.callable) == (active, callable_)


async def test_a_connection_is_what_the_client_pool_takes() -> None:
    connection = sellers.Connection.of(update())
    async with httpx.AsyncClient() as http:
        pool = spapi.SpApiClients(http, lambda cid: spapi.StaticTokenSource("t"))
        client = pool.for_connection(connection)
        assert client.selling_partner_id == connection.selling_partner_id
        assert client.endpoint == connection.region.endpoint
        with pytest.raises(spapi.NotCallable):
            pool.for_connection(sellers.Connection.of(update(status="pending", selling_partner_id=None)))


def test_consumer_routes_cover_updates_and_tombstones_of_connection_updated() -> None:
    routes, tombstones = sellers.consumer_routes(None)  # type: ignore[arg-type]
    assert set(routes) == set(tombstones) == {"connection.updated"} == {sellers.TOPIC}
    spec = contracts.topic_spec(sellers.TOPIC)
    assert (spec.key_field, spec.cleanup_policy) == ("connection_id", "compact")


async def test_a_tombstone_whose_key_is_not_utf8_is_rejected_and_an_empty_key_ignored() -> None:
    with pytest.raises(Rejected, match="UTF-8") as caught:
        await sellers.apply_tombstone(b"\xff\xfe-conn", pool=None)  # type: ignore[arg-type]
    assert "\\xff" not in str(caught.value)
    await sellers.apply_tombstone(b"", pool=None)  # type: ignore[arg-type]
    await sellers.apply_tombstone(None, pool=None)  # type: ignore[arg-type]

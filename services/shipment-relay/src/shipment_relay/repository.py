"""SQL of shipment-relay. Functions take the caller's connection and never commit."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from contracts import OrderReceivedV1, ShipmentCreatedV1

from shipment_relay.domain import Carrier, KnownItem

OPEN = ("pending", "sending", "unknown")


async def save_order_items(conn: asyncpg.Connection, order: OrderReceivedV1) -> None:
    """Only ids, SKUs and quantities: the rest of order.received (names, addresses) is never stored."""
    await conn.executemany(
        """
        INSERT INTO order_items (amazon_order_id, order_item_id, sku, quantity_ordered, quantity_shipped,
                                 last_update_date)
        VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (amazon_order_id, order_item_id) DO UPDATE
            SET sku = excluded.sku, quantity_ordered = excluded.quantity_ordered,
                quantity_shipped = excluded.quantity_shipped, last_update_date = excluded.last_update_date
            WHERE order_items.last_update_date <= excluded.last_update_date
        """,
        [
            (order.amazon_order_id, i.order_item_id, i.seller_sku, i.quantity_ordered, i.quantity_shipped,
             order.last_update_date)
            for i in order.lines
        ],
    )  # fmt: skip


async def order_items(conn: asyncpg.Connection, amazon_order_id: str) -> dict[str, KnownItem]:
    rows = await conn.fetch("SELECT * FROM order_items WHERE amazon_order_id = $1", amazon_order_id)
    return {
        r["order_item_id"]: KnownItem(r["order_item_id"], r["sku"], r["quantity_ordered"], r["quantity_shipped"])
        for r in rows
    }


async def save_shipment(conn: asyncpg.Connection, shipment: ShipmentCreatedV1, carriers: list[Carrier]) -> bool:
    """False when the shipment is known already (a replay): nothing changes, nothing is confirmed again."""
    inserted = await conn.fetchval(
        """
        INSERT INTO shipments (shipment_id, connection_id, marketplace_id, amazon_order_id)
        VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING true
        """,
        shipment.shipment_id, shipment.connection_id, shipment.marketplace_id, shipment.amazon_order_id,
    )  # fmt: skip
    if not inserted:
        return False
    # Shipments of one order arrive on one partition (keyed by order id), so numbering here does not race.
    last = await conn.fetchval(
        "SELECT coalesce(max(package_reference_id::bigint), 0) FROM packages WHERE amazon_order_id = $1",
        shipment.amazon_order_id,
    )
    for index, (package, carrier) in enumerate(zip(shipment.packages, carriers, strict=True)):
        items = [{"order_item_id": i.order_item_id, "sku": i.sku, "quantity": i.quantity} for i in package.items]
        await conn.execute(
            """
            INSERT INTO packages (shipment_id, package_index, amazon_order_id, package_reference_id, carrier,
                                  carrier_code, carrier_name, shipping_method, tracking_number, ship_date, items)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
            """,
            shipment.shipment_id, index, shipment.amazon_order_id, str(last + index + 1), package.carrier,
            carrier.code, carrier.name, package.service, package.tracking_number, package.ship_date,
            json.dumps(items),
        )  # fmt: skip
    return True


_PACKAGE = """
    SELECT p.*, s.connection_id, s.marketplace_id, s.created_at AS shipment_created_at
    FROM packages p JOIN shipments s USING (shipment_id)
"""


async def due_packages(
    conn: asyncpg.Connection,
    limit: int,
    lease: timedelta,
    apply_delay: timedelta,
    *,
    per_connection: int = 1_000_000,
    busy: dict[str, int] | None = None,
) -> list[asyncpg.Record]:
    """Oldest first (no shipment waits behind younger ones of its seller): pending and unknown ones due, and
    `sending` ones whose lease ran out, which become unknown (the process that sent them died before it recorded
    the answer) and are read on Amazon once its apply delay after the send has passed.

    At most `per_connection` per connection in flight, counting the `busy` ones already working: a seller's
    packages beyond what its rate limit lets through soon would hold the slots other sellers could use."""
    await conn.execute(
        """
        UPDATE packages SET state = 'unknown', next_attempt_at = greatest(now(), sent_at + $2::interval)
        WHERE state = 'sending' AND sent_at < now() - $1::interval
        """,
        lease, apply_delay,
    )  # fmt: skip
    return list(
        await conn.fetch(
            """
            WITH due AS (
                SELECT p.shipment_id, p.package_index, s.connection_id,
                       row_number() OVER (PARTITION BY s.connection_id
                                          ORDER BY p.created_at, p.shipment_id, p.package_index) AS place
                FROM packages p JOIN shipments s USING (shipment_id)
                WHERE p.state IN ('pending', 'unknown', 'accepted') AND p.next_attempt_at <= now()
            )
            SELECT p.*, s.connection_id, s.marketplace_id, s.created_at AS shipment_created_at
            FROM packages p JOIN shipments s USING (shipment_id) JOIN due d USING (shipment_id, package_index)
            WHERE d.place <= $2 - coalesce(($3::jsonb ->> d.connection_id)::int, 0)
            ORDER BY p.created_at, p.shipment_id, p.package_index
            LIMIT $1
            FOR UPDATE OF p SKIP LOCKED
            """,
            limit, per_connection, json.dumps(busy or {}),
        )
    )  # fmt: skip


async def package(conn: asyncpg.Connection, shipment_id: str, index: int) -> asyncpg.Record | None:
    return await conn.fetchrow(
        _PACKAGE + " WHERE p.shipment_id = $1 AND p.package_index = $2 FOR UPDATE OF p", shipment_id, index
    )


async def accepted_packages(
    conn: asyncpg.Connection, amazon_order_id: str, package_reference_ids: list[str]
) -> list[asyncpg.Record]:
    """The order's accepted packages among these reference ids (those Amazon shows)."""
    return list(
        await conn.fetch(
            _PACKAGE + " WHERE p.amazon_order_id = $1 AND p.state = 'accepted' AND p.package_reference_id = ANY($2)",
            amazon_order_id, package_reference_ids,
        )
    )  # fmt: skip


async def in_state(conn: asyncpg.Connection, shipment_id: str, index: int, state: str) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT true FROM packages WHERE shipment_id = $1 AND package_index = $2 AND state = $3 FOR UPDATE",
            shipment_id, index, state,
        )
    )  # fmt: skip


async def in_flight(
    conn: asyncpg.Connection, amazon_order_id: str, shipment_id: str, index: int
) -> list[asyncpg.Record]:
    """Other packages of the order Amazon has or may have taken: their units are not free to ship again."""
    return list(
        await conn.fetch(
            """
            SELECT package_reference_id, items FROM packages
            WHERE amazon_order_id = $1 AND state IN ('sending', 'unknown', 'accepted', 'applied')
              AND NOT (shipment_id = $2 AND package_index = $3)
            """,
            amazon_order_id, shipment_id, index,
        )
    )  # fmt: skip


async def set_state(
    conn: asyncpg.Connection,
    shipment_id: str,
    index: int,
    state: str,
    *,
    items: list[dict[str, Any]] | None = None,
    next_attempt_at: datetime | None = None,
    reason: str | None = None,
    error_code: str | None = None,
    error_message: str | None = None,
) -> None:
    await conn.execute(
        """
        UPDATE packages SET
            state = $3,
            items = coalesce($4::jsonb, items),
            next_attempt_at = coalesce($5, next_attempt_at),
            sent_at = CASE WHEN $3 = 'sending' THEN now() ELSE sent_at END,
            -- An accepted package counts its read-backs from 0.
            attempts = CASE WHEN $3 = 'sending' THEN attempts + 1 WHEN $3 = 'accepted' THEN 0 ELSE attempts END,
            decided_at = CASE WHEN $3 IN ('accepted', 'rejected', 'applied') THEN now() ELSE decided_at END,
            reason = coalesce($6, reason), error_code = coalesce($7, error_code),
            error_message = coalesce($8, error_message)
        WHERE shipment_id = $1 AND package_index = $2
        """,
        shipment_id, index, state, json.dumps(items) if items is not None else None, next_attempt_at,
        reason, error_code, error_message,
    )  # fmt: skip


async def shipment_packages(conn: asyncpg.Connection, shipment_id: str) -> list[asyncpg.Record]:
    return list(await conn.fetch(_PACKAGE + " WHERE p.shipment_id = $1 ORDER BY p.package_index", shipment_id))


async def shipment(conn: asyncpg.Connection, shipment_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM shipments WHERE shipment_id = $1", shipment_id)


async def lock_shipment(conn: asyncpg.Connection, shipment_id: str) -> None:
    await conn.execute("SELECT 1 FROM shipments WHERE shipment_id = $1 FOR UPDATE", shipment_id)


async def mark_published(conn: asyncpg.Connection, shipment_id: str, outcome: str) -> bool:
    """True when `outcome` was not published for the shipment yet (the caller publishes it in this transaction)."""
    return bool(
        await conn.fetchval(
            """
            UPDATE shipments SET published = $2 WHERE shipment_id = $1 AND published IS DISTINCT FROM $2
            RETURNING true
            """,
            shipment_id, outcome,
        )
    )  # fmt: skip


async def order_shipments(conn: asyncpg.Connection, amazon_order_id: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT shipment_id FROM shipments WHERE amazon_order_id = $1 ORDER BY created_at", amazon_order_id
    )
    return [r["shipment_id"] for r in rows]


async def retry(conn: asyncpg.Connection, shipment_id: str) -> int:
    """Rejected packages go back to pending; an unknown one is reconciled now. Accepted ones are never resent."""
    result = await conn.execute(
        """
        UPDATE packages SET state = CASE WHEN state = 'rejected' THEN 'pending' ELSE state END,
            next_attempt_at = now(), reason = NULL, error_code = NULL, error_message = NULL
        WHERE shipment_id = $1 AND state IN ('rejected', 'unknown', 'pending')
        """,
        shipment_id,
    )
    await conn.execute("UPDATE shipments SET published = NULL WHERE shipment_id = $1", shipment_id)
    return int(result.split()[-1])


async def oldest_waiting(conn: asyncpg.Connection) -> datetime | None:
    value: datetime | None = await conn.fetchval(
        "SELECT min(s.created_at) FROM packages p JOIN shipments s USING (shipment_id) WHERE p.state = ANY($1)",
        list(OPEN),
    )
    return value

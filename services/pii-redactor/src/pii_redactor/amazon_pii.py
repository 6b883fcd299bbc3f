"""PII-minimal delivery: an order's buyer and ship-to data read from Amazon when a label needs them.

In this mode order.received carried only `pii_reference`, so Kafka never held the PII; the vault asks Amazon
(`getOrder` with BUYER and RECIPIENT) the first time the warehouse needs the address, seals it, and from then on
it is held and redacted like any other order's.
"""

from __future__ import annotations

from typing import Any

import sellers
import spapi


class AddressUnavailable(Exception):
    """Amazon gave no ship-to address (not released yet, or already withheld after delivery)."""


async def fetch(clients: spapi.SpApiClients, connection: sellers.Connection, amazon_order_id: str) -> dict[str, Any]:
    """The vault's shape of the order's PII (vault.pii_of), plus the company names Amazon knows."""
    order = await clients.for_connection(connection).orders.get_order(
        amazon_order_id, included_data=[spapi.IncludedData.BUYER, spapi.IncludedData.RECIPIENT]
    )
    address = order.recipient.delivery_address if order.recipient else None
    if address is None or not address.address_line1:
        raise AddressUnavailable(f"Amazon gives no ship-to address for order {amazon_order_id}")
    pii: dict[str, Any] = {}
    if order.buyer is not None:
        for field, value in (("buyer_name", order.buyer.buyer_name), ("buyer_email", order.buyer.buyer_email),
                             ("buyer_company", order.buyer.buyer_company_name)):  # fmt: skip
            if value:
                pii[field] = value
    ship_to = {
        "recipient_name": address.name,
        "company": address.company_name,
        "address_line1": address.address_line1,
        "address_line2": address.address_line2,
        "address_line3": address.address_line3,
        "city": address.city,
        "state_or_region": address.state_or_region,
        "postal_code": address.postal_code,
        "country_code": address.country_code,
        "phone": address.phone,
    }
    pii["ship_to"] = {k: v for k, v in ship_to.items() if v}
    return pii

"""Reports API 2021-06-30 for GET_MERCHANT_LISTINGS_ALL_DATA: the seller's listings as a tab-separated file."""

from __future__ import annotations

import asyncio
from typing import Any

from spapi_sandbox import documents
from spapi_sandbox.errors import ApiError
from spapi_sandbox.state import MARKETPLACES, Report, iso, utcnow
from spapi_sandbox.world import Call, Reply, World

SUPPORTED = frozenset({"GET_MERCHANT_LISTINGS_ALL_DATA"})
COLUMNS = (
    "item-name",
    "item-description",
    "listing-id",
    "seller-sku",
    "price",
    "quantity",
    "open-date",
    "image-url",
    "item-is-marketplace",
    "product-id-type",
    "zshop-shipping-fee",
    "item-note",
    "item-condition",
    "zshop-category1",
    "zshop-browse-path",
    "zshop-storefront-feature",
    "asin1",
    "asin2",
    "asin3",
    "will-ship-internationally",
    "expedited-shipping",
    "zshop-boldface",
    "product-id",
    "bid-for-featured-placement",
    "add-delete",
    "pending-quantity",
    "fulfillment-channel",
    "merchant-shipping-group",
    "status",
)


def _report_id(text: str) -> str:
    if not text.isdigit():
        raise ApiError.invalid_input("Invalid input", details=f"'{text}' is not a report id.")
    return text


async def create_report(world: World, call: Call) -> Reply:
    body = call.body
    if body["reportType"] not in SUPPORTED:
        raise ApiError.invalid_input("Invalid input", details=f"The sandbox does not produce {body['reportType']}.")
    seller = world.state.sellers[call.seller_id]
    unknown = [m for m in body["marketplaceIds"] if m not in seller.marketplace_ids]
    if unknown:
        raise ApiError.invalid_input(f"Invalid marketplaceIds: {', '.join(unknown)}")
    report = Report(
        report_id=world.state.ids.report(),
        seller_id=call.seller_id,
        report_type=body["reportType"],
        marketplace_ids=list(body["marketplaceIds"]),
        created=utcnow(),
        data_start=body.get("dataStartTime"),
        data_end=body.get("dataEndTime"),
    )
    world.state.reports[report.report_id] = report
    world.spawn(_process(world, report, world.epoch))
    return Reply(202, {"reportId": report.report_id})


def listings_tsv(world: World, seller_id: str, marketplace_ids: list[str]) -> str:
    rows = ["\t".join(COLUMNS)]
    for listing in world.state.listings.values():
        if listing.seller_id != seller_id or listing.marketplace_id not in marketplace_ids:
            continue
        quantity = "" if listing.fulfillment == "AFN" or listing.quantity is None else str(listing.quantity)
        active = listing.fulfillment == "AFN" or (listing.quantity or 0) > 0
        values = {
            "item-name": listing.item_name or f"Sandbox product {listing.sku}",
            "listing-id": listing.asin[-8:] + "SBX",
            "seller-sku": listing.sku,
            "price": listing.price,
            "quantity": quantity,
            "open-date": listing.created.strftime("%Y-%m-%d %H:%M:%S UTC"),
            "item-is-marketplace": "y",
            "product-id-type": "1",
            "item-condition": "11",
            "asin1": listing.asin,
            "product-id": listing.asin,
            "pending-quantity": "0",
            "fulfillment-channel": listing.channel_code,
            "merchant-shipping-group": "Migrated Template",
            "status": "Active" if active else "Inactive",
        }
        rows.append("\t".join(values.get(column, "") for column in COLUMNS))
    return "\n".join(rows) + "\n"


# Amazon's European marketplaces deliver flat-file reports in Windows-1252 and say so only in the download's
# Content-Type; elsewhere (and for India, the Middle East and Turkey on the EU endpoint) UTF-8.
CP1252_COUNTRIES = frozenset({"GB", "IE", "DE", "FR", "IT", "ES", "NL", "BE", "SE", "PL"})


def report_charset(marketplace_ids: list[str]) -> str:
    countries = {MARKETPLACES[m].country_code for m in marketplace_ids if m in MARKETPLACES}
    return "Cp1252" if countries and countries <= CP1252_COUNTRIES else "UTF-8"


async def _process(world: World, report: Report, epoch: int) -> None:
    delay = world.config.scaled(world.config.report_processing_seconds)
    await asyncio.sleep(delay / 2)
    if world.epoch != epoch or report.status != "IN_QUEUE":
        return
    report.status, report.started = "IN_PROGRESS", utcnow()
    await asyncio.sleep(delay / 2)
    if world.epoch != epoch:
        return
    text = listings_tsv(world, report.seller_id, report.marketplace_ids)
    charset = report_charset(report.marketplace_ids)
    # Characters Cp1252 lacks come out as "?", as in Amazon's own EU flat files.
    data = text.encode("cp1252" if charset == "Cp1252" else "utf-8", errors="replace")
    document = documents.store_result(world, report.seller_id, f"text/plain;charset={charset}", data)
    report.document_id = document.document_id
    report.status, report.ended = "DONE", utcnow()


def render_report(report: Report) -> dict[str, Any]:
    out: dict[str, Any] = {
        "reportId": report.report_id,
        "reportType": report.report_type,
        "marketplaceIds": report.marketplace_ids,
        "createdTime": iso(report.created),
        "processingStatus": report.status,
    }
    for key, value in (("dataStartTime", report.data_start), ("dataEndTime", report.data_end)):
        if value:
            out[key] = value
    if report.started:
        out["processingStartTime"] = iso(report.started)
    if report.ended:
        out["processingEndTime"] = iso(report.ended)
    if report.document_id:
        out["reportDocumentId"] = report.document_id
    return out


async def get_report(world: World, call: Call) -> Reply:
    report = world.state.reports.get(_report_id(call.params["reportId"]))
    if report is None or report.seller_id != call.seller_id:
        raise ApiError.not_found(f"Report {call.params['reportId']} not found.")
    return Reply(200, render_report(report))


async def get_report_document(world: World, call: Call) -> Reply:
    document_id = call.params["reportDocumentId"]
    if not document_id.startswith("amzn1.tortuga."):
        raise ApiError.invalid_input("Invalid input", details=f"'{document_id}' is not a report document id.")
    document = world.state.documents.get(document_id)
    if document is None or document.seller_id != call.seller_id:
        raise ApiError.not_found(f"Report document {document_id} not found.")
    body: dict[str, Any] = {
        "reportDocumentId": document.document_id,
        "url": documents.presigned_url(call.base_url, document.document_id, "GET"),
    }
    if document.compressed:
        body["compressionAlgorithm"] = "GZIP"
    return Reply(200, body)

"""Amazon's shipping-carrier codes; a carrier outside the list is sent as `Other` plus its name."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, WithJsonSchema

__all__ = ["AMAZON_CARRIER_CODES", "AmazonCarrierCode"]

# The CarrierCode enumeration of amzn-base.xsd as reproduced in design/spapi-brief.md §8. The source list
# is longer; a missing carrier still ships through "Other" + carrier_name, so this list may grow additively.
AMAZON_CARRIER_CODES: tuple[str, ...] = (
    "USPS", "UPS", "UPSMI", "FedEx", "DHL", "Fastway", "GLS", "GO!", "Hermes Logistik Gruppe", "Royal Mail",
    "Parcelforce", "City Link", "TNT", "Target", "SagawaExpress", "NipponExpress", "YamatoTransport",
    "DHL Global Mail", "UPS Mail Innovations", "FedEx SmartPost", "OSM", "OnTrac", "Streamlite",
    "Newgistics", "Canada Post", "Blue Package", "Chronopost", "Deutsche Post", "DPD", "La Poste",
    "Parcelnet", "Poste Italiane", "SDA", "Smartmail", "FEDEX_JP", "JP_EXPRESS", "NITTSU", "SAGAWA",
    "YAMATO", "BlueDart", "AFL/Fedex", "Aramex", "India Post", "Professional", "DTDC", "Overnite Express",
    "First Flight", "Delhivery", "Lasership", "Yodel", "Other", "Amazon Shipping", "Seur", "Correos",
    "MRW", "Endopack", "Chrono Express", "Nacex", "Otro", "Correios",
)  # fmt: skip


def _known(value: Any) -> Any:
    if isinstance(value, str) and value not in AMAZON_CARRIER_CODES:
        raise ValueError(f"{value!r} is not an Amazon carrier code; use 'Other' with a carrier name")
    return value


AmazonCarrierCode = Annotated[
    str,
    BeforeValidator(_known),
    WithJsonSchema({"type": "string", "enum": list(AMAZON_CARRIER_CODES), "description": "Amazon carrier code."}),
]

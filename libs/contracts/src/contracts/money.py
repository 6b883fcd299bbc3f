"""Money on the wire: a decimal string plus an ISO 4217 currency, never a float, so no cent is lost in transit."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, PlainSerializer, WithJsonSchema

from contracts.payload import OutboundPayload

__all__ = ["ISO_4217_CURRENCIES", "Amount", "CurrencyCode", "Money"]

# Active circulating currencies (ISO 4217 list one); fund, precious-metal and testing codes (XAU, XDR,
# XTS, USN, ...) are left out because no marketplace prices in them.
ISO_4217_CURRENCIES: frozenset[str] = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD
    CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD
    GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT
    LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR
    NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP
    STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VED VES VND VUV WST XAF XCD
    XCG XOF XPF YER ZAR ZMW ZWG
    """.split()
)

_AMOUNT_PATTERN = r"^\d{1,15}(\.\d{1,6})?$"
_AMOUNT_RE = re.compile(_AMOUNT_PATTERN)


def _currency(value: Any) -> Any:
    if isinstance(value, str) and value not in ISO_4217_CURRENCIES:
        raise ValueError(f"{value!r} is not an ISO 4217 currency code (e.g. USD, EUR, GBP)")
    return value


def _amount(value: Any) -> Any:
    if isinstance(value, Decimal):
        if not value.is_finite() or value < 0:
            raise ValueError("must be a finite amount of 0 or more")
        return value
    if isinstance(value, bool | int | float):
        raise ValueError("must be a decimal string such as '19.99', not a JSON number")
    if not isinstance(value, str) or not _AMOUNT_RE.match(value):
        raise ValueError("must be a decimal string of 0 or more such as '19.99'")
    try:
        return Decimal(value)
    except InvalidOperation as exc:  # pragma: no cover - the pattern already excludes this
        raise ValueError("must be a decimal string such as '19.99'") from exc


CurrencyCode = Annotated[
    str,
    BeforeValidator(_currency),
    WithJsonSchema({"type": "string", "enum": sorted(ISO_4217_CURRENCIES), "description": "ISO 4217 currency code."}),
]

Amount = Annotated[
    Decimal,
    BeforeValidator(_amount),
    # Fixed-point text: str(Decimal("1E+2")) would print an exponent no publisher's pattern accepts.
    PlainSerializer(lambda d: format(d, "f"), return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": _AMOUNT_PATTERN,
            "description": "Non-negative decimal amount as a string, e.g. '19.99'.",
        }
    ),
]


class Money(OutboundPayload):
    """An amount in one currency; discounts are positive amounts that the receiver subtracts."""

    amount: Amount
    currency: CurrencyCode = Field(description="ISO 4217 currency code.")

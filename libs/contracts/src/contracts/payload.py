"""Base classes deciding how a payload treats unknown fields, by who publishes it.

- `InboundPayload`: published by the seller's internal systems (often not Python) and consumed by us. Unknown
  fields are rejected, so a misspelt field name fails loudly at the boundary instead of being dropped.
- `OutboundPayload`: published by our services. Unknown fields are ignored, so a consumer still on an older
  minor version keeps working while a newer producer adds optional fields (rolling deploys).
A new optional field on an inbound payload is therefore added here first, then publishers may send it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["InboundPayload", "OutboundPayload"]


class InboundPayload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class OutboundPayload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

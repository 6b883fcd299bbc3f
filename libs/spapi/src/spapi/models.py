"""The pydantic base every request and response model of this package shares."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class SpApiModel(BaseModel):
    """Snake_case in Python, Amazon's camelCase on the wire.

    Unknown fields are kept (`extra="allow"`): Amazon adds fields without a version bump, and a
    response we cannot parse is worse than one with fields we ignore.
    """

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def iso8601(value: datetime) -> str:
    """Amazon's ISO 8601 form: UTC with a Z, whole seconds."""
    if value.tzinfo is None:
        raise ValueError("timestamps sent to Amazon must be timezone-aware")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

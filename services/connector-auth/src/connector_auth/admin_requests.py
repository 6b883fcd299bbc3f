"""What the admin API accepts, as models: every rule the code enforces on a request is in its OpenAPI schema.

A client generated from the schema sends only what these models accept; what they cannot state (a marketplace
of another region than a stored connection's, a connection's status) is refused by the use cases with 409/422.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from contracts import ConnectionSettingsV1
from contracts.marketplaces import MarketplaceId
from fastapi import Path
from marketplaces import MARKETPLACES, Region, marketplaces_in
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    WithJsonSchema,
    create_model,
    model_validator,
)
from pydantic.fields import FieldInfo

from connector_auth import connections

ConnectionIdPath = Annotated[
    str,
    Path(pattern=connections.CONNECTION_ID_PATTERN, description="A connection id, e.g. conn-1f2e3d4c5b6a7980."),
]
SetupLinkIdPath = Annotated[
    str, Path(pattern=connections.SETUP_LINK_ID_PATTERN, description="A setup link id, e.g. sl-0a1b2c3d4e5f6071.")
]

# No surrounding spaces (they were never kept), no control characters (PostgreSQL text cannot hold NUL) and no
# LWA-token lookalike: the name is published for good.
# Spelt as code points, not \s: regex engines disagree on which characters \s holds (U+0085).
_NAME_PATTERN = r"^[^\x00-\x20\x7f-\x9f]([^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\x9f])?$"
# PostgreSQL's text and jsonb cannot hold NUL; every other free-text string of a request says so too.
NO_NUL = "^[^\\u0000]*$"
_TOKEN_LOOKALIKE = re.compile(r"Atz[ar]\|")


def _no_token(value: str) -> str:
    if _TOKEN_LOOKALIKE.search(value):
        raise ValueError("looks like an LWA token; names must not contain secrets")
    return value


ConnectionName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200, pattern=_NAME_PATTERN),
    AfterValidator(_no_token),
    Field(
        description="Display name, e.g. 'ACME US'; 1 to 200 characters. Never put a secret here: it is published.",
        json_schema_extra={"not": {"pattern": r"Atz[ar]\|"}},
    ),
]


def _in_region(region: Region) -> Any:
    """A marketplace id of `region`: its schema is the region's ids, its errors say which region an id is in."""

    def check(value: Any) -> Any:
        if isinstance(value, str):
            known = MARKETPLACES.get(value)
            if known is None:
                raise ValueError("not an Amazon marketplace id")
            if known.region != region:
                raise ValueError(f"this marketplace is in region {known.region}, not {region}")
        return value

    ids = sorted(m.id for m in marketplaces_in(region))
    return Annotated[
        str,
        BeforeValidator(check),
        WithJsonSchema({"type": "string", "enum": ids, "description": f"A marketplace id of region {region}."}),
    ]


def _marketplace_ids(item: Any) -> Any:
    return Annotated[
        list[item],  # type: ignore[valid-type]
        Field(
            min_length=1,
            max_length=len(MARKETPLACES),
            description="Amazon marketplace ids, each once, e.g. ATVPDKIKX0DER.",
            json_schema_extra={"uniqueItems": True},
        ),
        BeforeValidator(_unique),
    ]


def _unique(value: Any) -> Any:
    if isinstance(value, list) and all(isinstance(v, str) for v in value) and len(set(value)) != len(value):
        raise ValueError("marketplace ids must be unique")
    return value


def _settings_patch_fields() -> dict[str, Any]:
    # Each setting as the contract types it, none required: a patch names only what it changes. No default is
    # published (None is not a valid value of any setting); unset fields are left out with exclude_unset.
    fields: dict[str, Any] = {}
    for name, info in ConnectionSettingsV1.model_fields.items():
        fields[name] = (info.annotation, FieldInfo.merge_field_infos(info, default=None, default_factory=None))
    return fields


class _SettingsPatchBase(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=lambda schema: _patch_schema(schema))

    @model_validator(mode="after")
    def _no_nul(self) -> _SettingsPatchBase:
        # After validation: members the contract ignores (and so never stores) may hold anything.
        if _holds_nul(self.changes()):
            raise ValueError("a text of the settings contains a NUL character, which cannot be stored")
        return self

    @model_validator(mode="after")
    def _something_to_change(self) -> _SettingsPatchBase:
        if not self.model_fields_set:
            raise ValueError("no setting to change")
        return self

    def changes(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_unset=True)


def _holds_nul(data: Any) -> bool:
    if isinstance(data, str):
        return "\x00" in data
    if isinstance(data, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in data.items())
    if isinstance(data, list):
        return any(_holds_nul(v) for v in data)
    return False


def _patch_schema(schema: dict[str, Any]) -> None:
    schema["minProperties"] = 1
    properties = schema.get("properties", {})
    for prop in properties.values():
        if prop.get("default", ...) is None:
            del prop["default"]
        _no_nul_in(prop)
    # The contract's validator, stated: a carrier outside Amazon's list ('Other'/'Otro') needs its name.
    carrier = properties["carrier_mapping"]["additionalProperties"]
    properties["carrier_mapping"]["additionalProperties"] = {
        "allOf": [
            carrier,
            {"properties": {"name": {"pattern": NO_NUL}}},
            {"if": {"properties": {"code": {"enum": ["Other", "Otro"]}}}, "then": {"required": ["name"]}},
        ]
    }


def _no_nul_in(schema: Any) -> None:
    """Adds NO_NUL to each free-text string schema written inline (a $ref's target is not ours to change)."""
    if isinstance(schema, list):
        for item in schema:
            _no_nul_in(item)
    if not isinstance(schema, dict):
        return
    if schema.get("type") == "string" and "pattern" not in schema and "enum" not in schema:
        schema["pattern"] = NO_NUL
    for key in ("items", "additionalProperties", "propertyNames", "anyOf", "oneOf", "allOf"):
        if key in schema:
            _no_nul_in(schema[key])


SettingsPatch: type[_SettingsPatchBase] = create_model(  # type: ignore[call-overload]
    "SettingsPatch",
    __base__=_SettingsPatchBase,
    __doc__="Settings to replace, each whole (maps and lists included); settings not named stay as they are.",
    **_settings_patch_fields(),
)


class _NewConnection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ConnectionName
    settings: SettingsPatch | None = Field(  # type: ignore[valid-type]
        default=None, description="Settings differing from the defaults."
    )

    def settings_changes(self) -> dict[str, Any] | None:
        settings: _SettingsPatchBase | None = self.settings  # type: ignore[assignment]
        return None if settings is None else settings.changes()


class NewConnectionNA(_NewConnection):
    region: Literal["NA"] = Field(description="One authorization covers a region.")
    marketplace_ids: _marketplace_ids(_in_region(Region.NA))  # type: ignore[valid-type]


class NewConnectionEU(_NewConnection):
    region: Literal["EU"] = Field(description="One authorization covers a region.")
    marketplace_ids: _marketplace_ids(_in_region(Region.EU))  # type: ignore[valid-type]


class NewConnectionFE(_NewConnection):
    region: Literal["FE"] = Field(description="One authorization covers a region.")
    marketplace_ids: _marketplace_ids(_in_region(Region.FE))  # type: ignore[valid-type]


def _region_of(value: Any) -> Any:
    return value.get("region") if isinstance(value, dict) else getattr(value, "region", None)


CreateConnection = Annotated[
    Annotated[NewConnectionNA, Tag("NA")]
    | Annotated[NewConnectionEU, Tag("EU")]
    | Annotated[NewConnectionFE, Tag("FE")],
    Discriminator(
        _region_of,
        custom_error_type="invalid_region",
        custom_error_message="region must be one of NA, EU, FE",
    ),
]


class ChangeConnection(BaseModel):
    """Name and marketplaces; the marketplaces must be in the connection's region (else 422)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})

    # null, like leaving a member out, keeps what the connection has.
    name: ConnectionName | None = None
    marketplace_ids: _marketplace_ids(MarketplaceId) | None = None  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _something_to_change(self) -> ChangeConnection:
        if not self.model_fields_set:
            raise ValueError("nothing to change: give name or marketplace_ids")
        return self

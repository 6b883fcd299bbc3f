"""One seller connection as this service last saw it on connection.updated."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import spapi
from contracts import ConnectionSettingsV1, ConnectionStatus, ConnectionUpdatedV1


@dataclass(frozen=True, slots=True, kw_only=True)
class Connection:
    connection_id: str
    status: ConnectionStatus
    region: spapi.Region
    marketplace_ids: list[str]
    selling_partner_id: str | None
    settings: ConnectionSettingsV1
    revision: int

    @property
    def active(self) -> bool:
        return self.status == ConnectionStatus.ACTIVE

    @property
    def callable(self) -> bool:
        """Amazon may be called for it: active, and the seller has given consent (so its id is known)."""
        return self.active and self.selling_partner_id is not None

    @classmethod
    def of(cls, data: ConnectionUpdatedV1) -> Connection:
        return cls(
            connection_id=data.connection_id,
            status=data.status,
            region=spapi.Region(data.region),
            marketplace_ids=list(data.marketplace_ids),
            selling_partner_id=data.selling_partner_id,
            settings=data.settings,
            revision=data.revision,
        )

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Connection:
        """From a row of the `connections` table, also one joined with a service's own tables."""
        return cls(
            connection_id=row["connection_id"],
            status=ConnectionStatus(row["status"]),
            region=spapi.Region(row["region"]),
            marketplace_ids=list(row["marketplace_ids"]),
            selling_partner_id=row["selling_partner_id"],
            settings=ConnectionSettingsV1.model_validate_json(row["settings"]),
            revision=row["revision"],
        )

"""The admin API's request models: what the OpenAPI says is what they accept."""

from __future__ import annotations

from typing import Any
from unittest.mock import MagicMock

import pytest
import servicekit
from connector_auth import admin_routes
from connector_auth.admin_requests import ChangeConnection, CreateConnection, SettingsPatch
from marketplaces import MARKETPLACES
from pydantic import TypeAdapter, ValidationError

NEW = TypeAdapter(CreateConnection)


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    app = servicekit.create_admin_app("connector-auth", checks={}, routers=[admin_routes.router(MagicMock())])
    return app.openapi()


def test_every_path_parameter_states_its_pattern(openapi: dict[str, Any]) -> None:
    for path, methods in openapi["paths"].items():
        for method, operation in methods.items():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path":
                    assert "pattern" in parameter["schema"], f"{method} {path} {parameter['name']}"


def test_create_states_each_regions_marketplaces(openapi: dict[str, Any]) -> None:
    schemas = openapi["components"]["schemas"]
    for region in ("NA", "EU", "FE"):
        model = schemas[f"NewConnection{region}"]
        assert model["properties"]["region"]["const"] == region
        ids = set(model["properties"]["marketplace_ids"]["items"]["enum"])
        assert ids == {m.id for m in MARKETPLACES.values() if m.region == region}
        assert model["properties"]["marketplace_ids"]["uniqueItems"] is True
        assert model["additionalProperties"] is False


def test_settings_patch_states_ranges_and_needs_one_setting(openapi: dict[str, Any]) -> None:
    patch = openapi["components"]["schemas"]["SettingsPatch"]
    assert patch["minProperties"] == 1 and patch["additionalProperties"] is False
    assert "required" not in patch
    days, poll = patch["properties"]["handling_time_days"], patch["properties"]["order_poll_interval_minutes"]
    assert (days["minimum"], days["maximum"], poll["minimum"], poll["maximum"]) == (1, 30, 15, 240)
    assert all("default" not in p for p in patch["properties"].values())


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": " padded", "region": "NA", "marketplace_ids": ["ATVPDKIKX0DER"]}, "name"),
        ({"name": "a\x00b", "region": "NA", "marketplace_ids": ["ATVPDKIKX0DER"]}, "name"),
        ({"name": "x" * 201, "region": "NA", "marketplace_ids": ["ATVPDKIKX0DER"]}, "name"),
        ({"name": "Atza|abc", "region": "NA", "marketplace_ids": ["ATVPDKIKX0DER"]}, "name"),
        ({"name": "x", "region": "NA", "marketplace_ids": []}, "marketplace_ids"),
        ({"name": "x", "region": "NA", "marketplace_ids": ["ATVPDKIKX0DER", "ATVPDKIKX0DER"]}, "marketplace_ids"),
        ({"name": "x", "region": "EU", "marketplace_ids": ["ATVPDKIKX0DER"]}, "marketplace_ids.0"),
        ({"name": "x", "region": "XX", "marketplace_ids": ["ATVPDKIKX0DER"]}, "body"),
        ({"name": "x", "region": "NA", "marketplace_ids": ["ATVPDKIKX0DER"], "colour": 1}, "colour"),
        ({"name": "x", "region": "NA", "marketplace_ids": ["ATVPDKIKX0DER"], "settings": {}}, "settings"),
    ],
)
def test_create_refuses_what_its_schema_excludes(body: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        NEW.validate_python(body)
    assert field in [e["field"] for e in servicekit.field_errors(refused.value, body=body)]


def test_a_valid_create_keeps_only_the_settings_given() -> None:
    body = {
        "name": "ACME EU",
        "region": "EU",
        "marketplace_ids": ["A1PA6795UKMFR9"],
        "settings": {"fba_handling": True},
    }
    created = NEW.validate_python(body)
    assert created.region == "EU" and created.settings_changes() == {"fba_handling": True}


def test_settings_patch_refuses_nul_in_stored_texts_but_not_in_ignored_members() -> None:
    with pytest.raises(ValidationError):
        SettingsPatch.model_validate({"stock_warehouse_ids": ["W\x001"]})
    ignored = SettingsPatch.model_validate({"carrier_mapping": {"ours": {"code": "UPS", "no\x00te": 1}}})
    assert ignored.changes() == {"carrier_mapping": {"ours": {"code": "UPS"}}}  # type: ignore[attr-defined]


def test_change_needs_something_to_change() -> None:
    with pytest.raises(ValidationError):
        ChangeConnection.model_validate({})
    assert ChangeConnection.model_validate({"name": "new"}).name == "new"

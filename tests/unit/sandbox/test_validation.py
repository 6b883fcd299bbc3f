"""The official models decide what the sandbox accepts and what it may answer."""

from __future__ import annotations

import httpx
import pytest
from spapi_sandbox import gateway
from spapi_sandbox.errors import ApiError
from spapi_sandbox.models import Models
from spapi_sandbox.world import Call, Reply, World

SELLER = "A1SANDBOXSELLER"
LISTING = f"/listings/2021-08-01/items/{SELLER}/SKU-1"


def test_missing_required_query_parameter_is_refused(models: Models) -> None:
    with pytest.raises(ApiError) as refused:
        models["getListingsItem"].parse_params({"sellerId": SELLER, "sku": "SKU-1"}, {})
    assert refused.value.status == 400
    assert refused.value.code == "InvalidInput"
    assert "marketplaceIds" in refused.value.message


def test_enum_and_type_violations_are_refused(models: Models) -> None:
    search = models["searchOrders"]
    with pytest.raises(ApiError, match="fulfillmentStatuses"):
        search.parse_params({}, {"fulfillmentStatuses": ["UNSHIPPED,BOGUS"]})
    with pytest.raises(ApiError, match="maxResultsPerPage"):
        search.parse_params({}, {"maxResultsPerPage": ["many"]})
    with pytest.raises(ApiError, match="createdAfter"):
        search.parse_params({}, {"createdAfter": ["yesterday"]})


def test_well_formed_parameters_are_typed(models: Models) -> None:
    params = models["searchOrders"].parse_params(
        {}, {"createdAfter": ["2026-01-01T00:00:00Z"], "maxResultsPerPage": ["5"], "includedData": ["BUYER,RECIPIENT"]}
    )
    assert params == {
        "createdAfter": "2026-01-01T00:00:00Z",
        "maxResultsPerPage": 5,
        "includedData": ["BUYER", "RECIPIENT"],
    }


def test_body_breaking_the_model_is_refused(models: Models) -> None:
    confirm = models["confirmShipment"]
    package = {
        "packageReferenceId": "1",
        "carrierCode": "UPS",
        "trackingNumber": "1Z",
        "shipDate": "2026-08-06T15:04:05Z",
        "orderItems": [{"orderItemId": "1", "quantity": 1}],
    }
    confirm.check_body({"marketplaceId": "ATVPDKIKX0DER", "packageDetail": package})
    with pytest.raises(ApiError, match="invalid"):
        confirm.check_body({"marketplaceId": "ATVPDKIKX0DER"})
    with pytest.raises(ApiError) as refused:
        confirm.check_body({"marketplaceId": "ATVPDKIKX0DER", "packageDetail": {**package, "shipDate": "02/21/2022"}})
    assert "shipDate" in (refused.value.details or "")
    with pytest.raises(ApiError):
        confirm.check_body(None)


def test_response_problems_name_what_breaks_the_model(models: Models) -> None:
    get_order = models["getOrder"]
    assert get_order.response_problems(200, {"order": {"orderId": "1"}})
    assert get_order.response_problems(418, {"errors": []}) == ["status 418 is not declared for getOrder"]
    assert models["confirmShipment"].response_problems(204, None) == []
    assert models["confirmShipment"].response_problems(204, {"unexpected": True})
    assert get_order.response_problems(404, ApiError.not_found("x").body()) == []


async def test_wrong_request_over_http_gets_amazon_shaped_400_and_changes_nothing(api: httpx.AsyncClient) -> None:
    world: World = api.world  # type: ignore[attr-defined]
    await api.post("/_sandbox/listings", json={"sku": "SKU-1", "quantity": 3})
    response = await api.patch(
        LISTING,
        params={"marketplaceIds": "ATVPDKIKX0DER"},
        json={"productType": "PRODUCT", "patches": [{"op": "upsert", "path": "/attributes/x"}]},
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "InvalidInput"
    assert response.headers["x-amzn-RequestId"]
    assert world.ledger.query() == []


async def test_non_json_body_is_refused(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/feeds/2021-06-30/documents",
        content=b"contentType=text/xml",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 415
    assert response.json()["errors"][0]["code"] == "UnsupportedMediaType"


async def test_a_reply_breaking_the_model_becomes_a_loud_500(
    monkeypatch: pytest.MonkeyPatch, models: Models, app_config: object
) -> None:
    async def broken(world: World, call: Call) -> Reply:
        return Reply(200, {"payload": [{"marketplace": {"id": "ATVPDKIKX0DER"}}]})

    monkeypatch.setitem(gateway.HANDLERS, "getMarketplaceParticipations", broken)
    from spapi_sandbox.app import create_app

    app = create_app(app_config, models=models)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s") as client:
        token = (
            await client.post(
                "/auth/o2/token",
                data={
                    "grant_type": "refresh_token",
                    "refresh_token": "Atzr|sandbox-default-seller-refresh-token",
                    "client_id": "a",
                    "client_secret": "b",
                },
            )
        ).json()["access_token"]
        response = await client.get("/sellers/v1/marketplaceParticipations", headers={"x-amz-access-token": token})
    assert response.status_code == 500
    assert response.json()["errors"][0]["code"] == "InternalFailure"
    assert any("getMarketplaceParticipations" in v for v in app.state.world.violations)

import pytest
from fastapi import APIRouter, Depends
from fastapi.testclient import TestClient
from pydantic import SecretStr
from servicekit import Principal, Role, create_admin_app, parse_admin_tokens, require_role

TOKENS = "ana:viewer:viewer-token-0123456789,olu:operator:operator-token-0123456789"


async def _ok() -> bool:
    return True


async def _down() -> bool:
    return False


def _client(checks=None) -> TestClient:
    router = APIRouter()

    @router.post("/admin/things")
    async def act(who: Principal = Depends(require_role(Role.operator))) -> dict[str, str]:
        return {"by": who.name}

    app = create_admin_app(
        "svc", checks=checks or {"db": _ok}, routers=[router], principals=parse_admin_tokens(SecretStr(TOKENS))
    )
    return TestClient(app)


@pytest.mark.parametrize(
    ("header", "status"),
    [(None, 401), ("Bearer wrong-token-0123456789", 401), ("Basic abc", 401), ("Bearer viewer-token-0123456789", 403)],
)
def test_admin_routes_refuse_missing_wrong_and_too_low_tokens(header: str | None, status: int) -> None:
    headers = {"Authorization": header} if header else {}
    response = _client().post("/admin/things", headers=headers)
    assert response.status_code == status
    assert "token" not in response.text.lower() or "bearer" in response.text.lower()


def test_admin_routes_accept_a_sufficient_role() -> None:
    response = _client().post("/admin/things", headers={"Authorization": "Bearer operator-token-0123456789"})
    assert response.status_code == 200
    assert response.json() == {"by": "olu"}


def test_bad_token_spec_names_the_entry_not_the_token() -> None:
    with pytest.raises(ValueError, match="entry 1") as info:
        parse_admin_tokens(SecretStr("ana:superuser:some-long-secret-value"))
    assert "some-long-secret-value" not in str(info.value)


def test_readyz_names_the_failing_check_and_livez_does_not_care() -> None:
    client = _client({"postgres": _ok, "kafka": _down})
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"] == {"postgres": "ok", "kafka": "failing"}
    assert client.get("/livez").status_code == 200
    assert client.get("/metrics").status_code == 200


def test_malformed_admin_tokens_stop_the_settings_from_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError
    from servicekit import ServiceSettings

    monkeypatch.setenv("DATABASE_URL", "postgresql://x@127.0.0.1/x")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    monkeypatch.setenv("ADMIN_TOKENS", "ana:root:a-long-enough-secret-token")
    with pytest.raises(ValidationError) as info:
        ServiceSettings()
    assert info.value.errors()[0]["loc"] == ("admin_tokens",)
    assert "a-long-enough-secret-token" not in str(info.value)

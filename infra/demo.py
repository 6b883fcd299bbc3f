"""`make demo`: drives the running system (`make up`) the way its users would, one small step per function.

Step 1 connects a seller: an admin creates a connection in connector-auth, then the seller's "browser" opens
Amazon's consent page (the sandbox's), presses Approve, and follows the redirects back to our callback.
Later steps (orders, stock) append functions below and call them from `main`.
"""

from __future__ import annotations

import json
import os
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
LOCAL_ENV = Path(os.environ.get("LOCAL_ENV_FILE", ROOT / ".run" / "local.env"))
CONNECTOR_AUTH = os.environ.get("CONNECTOR_AUTH_URL", "http://127.0.0.1:18101")
SANDBOX = f"http://127.0.0.1:{os.environ.get('SANDBOX_PORT', '18100')}"
DEMO_CONNECTION = "Demo seller (sandbox)"
DEMO_MARKETPLACE = "ATVPDKIKX0DER"  # the sandbox's default seller sells in the US


def local_env() -> dict[str, str]:
    """The local-only secrets `make up` generated (admin and service tokens)."""
    if not LOCAL_ENV.exists():
        sys.exit("no .run/local.env: run `make up` first")
    return dict(line.split("=", 1) for line in LOCAL_ENV.read_text().splitlines() if "=" in line)


def admin_token(role: str = "admin") -> str:
    for entry in local_env()["ADMIN_TOKENS"].split(","):
        _, entry_role, token = entry.split(":", 2)
        if entry_role == role:
            return token
    sys.exit(f"ADMIN_TOKENS in .run/local.env has no {role} token")


def admin_api(role: str = "admin") -> httpx.Client:
    return httpx.Client(base_url=CONNECTOR_AUTH, headers={"authorization": f"Bearer {admin_token(role)}"}, timeout=30)


class _ConsentForm(HTMLParser):
    """The fields of Seller Central's consent form, as a browser would submit them."""

    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}
        self.accounts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.action = a.get("action", "")
        elif tag == "input" and a.get("type") == "hidden":
            self.fields[a["name"]] = a.get("value", "")
        elif tag == "option":
            self.accounts.append(a.get("value", ""))


def approve_as_seller(consent_url: str) -> httpx.Response:
    """Open the consent page, press Approve with the first selling account, follow redirects to our callback."""
    with httpx.Client(follow_redirects=True, timeout=30) as browser:
        page = browser.get(consent_url)
        page.raise_for_status()
        form = _ConsentForm()
        form.feed(page.text)
        if not form.accounts:
            sys.exit(f"the consent page at {page.url} shows no selling account")
        return browser.post(
            str(page.url.join(form.action)),
            data={**form.fields, "selling_partner_id": form.accounts[0], "decision": "approve"},
        )


def find_demo_connection(api: httpx.Client) -> dict[str, Any] | None:
    listed = api.get("/admin/connections")
    listed.raise_for_status()
    live = [c for c in listed.json() if c["name"] == DEMO_CONNECTION and c["status"] != "disconnected"]
    return live[0] if live else None


def connect_seller() -> str:
    """Connects the sandbox's seller through the real consent flow; returns the connection id. Idempotent."""
    with admin_api() as api:
        existing = find_demo_connection(api)
        if existing and existing["status"] in ("active", "disabled"):
            print(f"seller {existing['selling_partner_id']} is already connected as {existing['id']}")
            return str(existing["id"])
        if existing:
            answer = api.post(f"/admin/connections/{existing['id']}/authorize")
            answer.raise_for_status()
            connection_id, consent_url = existing["id"], answer.json()["consent_url"]
        else:
            answer = api.post(
                "/admin/connections",
                json={"name": DEMO_CONNECTION, "region": "NA", "marketplace_ids": [DEMO_MARKETPLACE]},
            )
            answer.raise_for_status()
            connection_id, consent_url = answer.json()["connection"]["id"], answer.json()["consent_url"]
        print(f"created connection {connection_id}; the seller opens Amazon's consent page")
        landed = approve_as_seller(consent_url)
        if landed.status_code != 200:
            sys.exit(f"consent failed ({landed.status_code}): {landed.text}")
        print(f"the seller approved; Amazon redirected the browser back to {str(landed.url).split('?')[0]}")
        return str(connection_id)


def show_connection(connection_id: str) -> dict[str, Any]:
    """Prints the connection as operators see it (status, seller, deadlines, settings)."""
    with admin_api("viewer") as api:
        answer = api.get(f"/admin/connections/{connection_id}")
        answer.raise_for_status()
        connection: dict[str, Any] = answer.json()
    print(f"connection {connection['id']}: {connection['status']}, seller {connection['selling_partner_id']},")
    print(f"  re-authorize by {connection['reauthorization_deadline']}; warnings: {connection['warnings'] or 'none'}")
    print("  settings:")
    print("\n".join("    " + line for line in json.dumps(connection["settings"], indent=2).splitlines()))
    return connection


def test_connection(connection_id: str) -> None:
    """Asks Amazon (the sandbox) which marketplaces the seller sells in, and compares."""
    with admin_api("operator") as api:
        answer = api.post(f"/admin/connections/{connection_id}/test")
        answer.raise_for_status()
        report = answer.json()
    marketplaces = ", ".join(m["id"] for m in report["marketplaces"])
    print(f"test connection: ok={report['ok']} matches={report['matches']} (Amazon: {marketplaces})")


def main() -> None:
    connection_id = connect_seller()
    show_connection(connection_id)
    test_connection(connection_id)


if __name__ == "__main__":
    main()

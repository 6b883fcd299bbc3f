"""servicekit.run_service serves extra listeners beside the admin app and stops them with it."""

from __future__ import annotations

import asyncio
import os
import signal
import socket

import httpx
import servicekit
from fastapi import FastAPI
from testkit import eventually


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_run_service_serves_each_listener_on_its_own_port_until_sigterm() -> None:
    admin, public = FastAPI(), FastAPI()

    @admin.get("/where")
    async def admin_where() -> str:
        return "admin"

    @public.get("/where")
    async def public_where() -> str:
        return "public"

    admin_port, public_port = _free_port(), _free_port()
    running = asyncio.create_task(
        servicekit.run_service(
            admin,
            servicekit.AdminSettings(host="127.0.0.1", port=admin_port),
            [],
            listeners=[servicekit.Listener("public", public, "127.0.0.1", public_port)],
        )
    )
    async with httpx.AsyncClient(timeout=5) as client:

        async def both_answer() -> list[str] | None:
            try:
                return [
                    (await client.get(f"http://127.0.0.1:{port}/where")).json() for port in (admin_port, public_port)
                ]
            except httpx.TransportError:
                return None

        assert await eventually(both_answer, timeout=10, interval=0.05) == ["admin", "public"]
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(running, timeout=10)
        for port in (admin_port, public_port):
            try:
                await client.get(f"http://127.0.0.1:{port}/where")
                raise AssertionError(f"port {port} still answers")
            except httpx.TransportError:
                pass

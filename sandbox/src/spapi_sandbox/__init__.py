"""A stateful stand-in for Amazon's Selling Partner API, held to Amazon's official models."""

from spapi_sandbox.app import create_app
from spapi_sandbox.config import SandboxConfig
from spapi_sandbox.server import running
from spapi_sandbox.state import DEFAULT_MARKETPLACE_ID, DEFAULT_REFRESH_TOKEN, DEFAULT_SELLER_ID

__all__ = [
    "DEFAULT_MARKETPLACE_ID",
    "DEFAULT_REFRESH_TOKEN",
    "DEFAULT_SELLER_ID",
    "SandboxConfig",
    "create_app",
    "running",
]

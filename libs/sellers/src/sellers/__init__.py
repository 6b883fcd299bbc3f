"""A service's local copy of its sellers' connections, kept from connection.updated, and an Amazon client for each."""

from pathlib import Path

from sellers.connection import Connection
from sellers.projection import TOPIC, Routes, Saved, apply_tombstone, apply_update, consumer_routes
from sellers.store import (
    active_connections_of_seller,
    connection,
    connections,
    delete_connection,
    save_connection,
)

# The `connections` table; a service applies these into its own schema (see the README for the order).
MIGRATIONS_DIR = Path(__file__).parent / "migrations"

__all__ = [
    "MIGRATIONS_DIR",
    "TOPIC",
    "Connection",
    "Routes",
    "Saved",
    "active_connections_of_seller",
    "apply_tombstone",
    "apply_update",
    "connection",
    "connections",
    "consumer_routes",
    "delete_connection",
    "save_connection",
]

"""Seller connections: OAuth with Amazon, encrypted refresh tokens, settings and the internal token API."""

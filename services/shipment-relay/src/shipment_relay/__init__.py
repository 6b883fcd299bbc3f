"""Shipments and seller cancellations to Amazon (shipment.created, order.completed -> Amazon -> shipment.confirmed)."""

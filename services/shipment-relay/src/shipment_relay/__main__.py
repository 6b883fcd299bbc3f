"""`python -m shipment_relay serve|migrate`."""

import sys

import servicekit

from shipment_relay.main import migrate, serve

sys.exit(servicekit.command_line("shipment-relay", serve=serve, migrate=migrate))

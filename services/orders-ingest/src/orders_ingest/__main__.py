"""`python -m orders_ingest serve|migrate`."""

import sys

import servicekit

from orders_ingest.main import migrate, serve

sys.exit(servicekit.command_line("orders-ingest", serve=serve, migrate=migrate))

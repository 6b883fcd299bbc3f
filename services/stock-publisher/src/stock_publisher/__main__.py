"""`python -m stock_publisher serve|migrate`."""

import sys

import servicekit

from stock_publisher.main import migrate, serve

sys.exit(servicekit.command_line("stock-publisher", serve=serve, migrate=migrate))

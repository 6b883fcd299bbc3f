"""`python -m connector_auth serve|migrate`."""

import sys

import servicekit

from connector_auth.main import migrate, serve

sys.exit(servicekit.command_line("connector-auth", serve=serve, migrate=migrate))

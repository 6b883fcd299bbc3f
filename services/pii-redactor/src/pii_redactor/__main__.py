"""`python -m pii_redactor serve|migrate`."""

import sys

import servicekit

from pii_redactor.main import migrate, serve

sys.exit(servicekit.command_line("pii-redactor", serve=serve, migrate=migrate))

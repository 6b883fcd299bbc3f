"""Integration fixtures: the sandbox over real HTTP, through the same fixtures other suites use."""

from testkit.sandbox import sandbox, sandbox_url  # noqa: F401 - fixtures re-exported for this directory

"""`python -m <service> serve|migrate`: the one command-line shape every service shares."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from pydantic import ValidationError

from servicekit.lifecycle import WorkerCrashed

log = logging.getLogger(__name__)

Command = Callable[[], Coroutine[Any, Any, None]]


def command_line(service: str, *, serve: Command, migrate: Command, argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {service.replace('-', '_')}", description=service)
    parser.add_argument("command", choices=["serve", "migrate"])
    args = parser.parse_args(argv)
    try:
        asyncio.run(serve() if args.command == "serve" else migrate())
    except ValidationError as exc:
        # Settings errors: say which variable is missing or wrong, never echo a value (it may be a secret).
        fields = ", ".join(".".join(str(p) for p in e["loc"]).upper() for e in exc.errors())
        print(f"{service}: invalid or missing settings: {fields}", file=sys.stderr)
        return 2
    except WorkerCrashed as exc:
        log.error("exiting after a crash of: %s", exc)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0

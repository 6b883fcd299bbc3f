"""`python -m spapi_sandbox --port PORT`: serve the sandbox on 127.0.0.1."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import uvicorn

from spapi_sandbox.app import create_app
from spapi_sandbox.config import SandboxConfig


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m spapi_sandbox", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--speedup", type=float, default=1.0, help="multiply every rate limit, divide delays")
    parser.add_argument("--lwa-client-id")
    parser.add_argument("--lwa-client-secret")
    parser.add_argument("--notify-url", help="where ORDER_CHANGE notifications are POSTed")
    parser.add_argument("--sqs-endpoint", help="SQS-compatible server (ElasticMQ) holding the destinations' queues")
    parser.add_argument(
        "--application-id",
        default=SandboxConfig().application_id,
        help="the SP-API application id ORDER_CHANGE notifications carry (the connector's SPAPI_APPLICATION_ID)",
    )
    parser.add_argument(
        "--order-generator", type=float, default=0.0, metavar="RATE", help="generate RATE orders per minute"
    )
    parser.add_argument(
        "--write-delay",
        type=float,
        default=SandboxConfig().write_apply_seconds,
        metavar="SECONDS",
        help="Amazon-time until an accepted confirmShipment/patch/putListingsItem takes effect (÷ speedup)",
    )
    parser.add_argument("--models-dir", type=Path, help="directory of the official SP-API models")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    if bool(args.lwa_client_id) != bool(args.lwa_client_secret):
        parser.error("--lwa-client-id and --lwa-client-secret go together")
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    config = SandboxConfig(
        speedup=args.speedup,
        lwa_client_id=args.lwa_client_id,
        lwa_client_secret=args.lwa_client_secret,
        notify_url=args.notify_url,
        sqs_endpoint=args.sqs_endpoint,
        application_id=args.application_id,
        orders_per_minute=args.order_generator,
        write_apply_seconds=args.write_delay,
        models_dir=args.models_dir,
        seed=args.seed,
    )
    # access_log off: request lines would carry query strings, which can hold buyer-related filters.
    uvicorn.run(create_app(config), host=args.host, port=args.port, log_level=args.log_level, access_log=False)


if __name__ == "__main__":
    main()

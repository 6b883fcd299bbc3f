"""SKU updates per second accepted through the JSON_LISTINGS_FEED pipeline, as a fraction of Amazon's ceiling.

Pipeline per feed, all through libs/spapi against the sandbox over HTTP:
createFeedDocument -> PUT upload -> createFeed -> poll getFeed -> getFeedDocument -> download + parse report.

Amazon's ceiling (spapi-brief.md §4): JSON_LISTINGS_FEED is throttled to 5 submissions per 5 minutes per
region, each of at most 25,000 messages, i.e. 5 * 25,000 / 300 s = 416.7 SKU updates per second sustained.
The sandbox runs SPEEDUP times faster than Amazon (every rate multiplied, every delay divided), and our
limiter is scaled by the same factor, so wall-clock numbers are divided by SPEEDUP to get Amazon-time ones.

The JSON_LISTINGS_FEED bucket is drained before measuring (the 5 seeding feeds that create the SKUs use
the whole burst), so the window measures the sustained rate. The window's ceiling is
(tokens left in the bucket at the start + window * rate) * 25,000 messages.

Baseline, same run and sandbox (in its own process): raw httpx round-trips (no token, limiter or
retries) to the sandbox, sequential and 32 in flight; "per-SKU calls" is what one round-trip per SKU
could reach at best, and patchListingsItem's own limit (5 rps) is what Amazon would allow per SKU.

At 5x the sandbox processes a 25,000-message feed (about 8 s of its CPU) faster than a token arrives (12 s),
so the client pipeline, not the sandbox, is what is measured. About one minute end to end.

Run: uv run python bench/spapi_throughput.py [--speedup 5] [--feeds 4] [--messages 25000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import spapi
import spapi_sandbox

FEEDS_PER_WINDOW = 5
WINDOW_SECONDS = 300.0
MAX_MESSAGES = 25_000
AMAZON_CEILING = FEEDS_PER_WINDOW * MAX_MESSAGES / WINDOW_SECONDS  # SKU updates/s, Amazon time
PATCH_LISTINGS_RATE = 5.0  # patchListingsItem requests/s (one SKU each)
MARKETPLACE = spapi_sandbox.DEFAULT_MARKETPLACE_ID
SELLER = spapi_sandbox.DEFAULT_SELLER_ID
CT = spapi.JSON_CONTENT_TYPE


def feed_bytes(skus: list[str], quantity_of: Any, operation: str) -> bytes:
    # One message through the typed model fixes the wire shape; the rest are copies (fast to build).
    if operation == "PATCH":
        template = spapi.ListingsFeedMessage(
            message_id=1,
            sku="x",
            operation_type="PATCH",
            product_type="PRODUCT",
            patches=[
                spapi.ListingsPatch(
                    op="merge",
                    path="/attributes/fulfillment_availability",
                    value=[{"fulfillment_channel_code": "DEFAULT", "quantity": 0}],
                )
            ],
        ).to_wire()
    else:
        template = spapi.ListingsFeedMessage(
            message_id=1,
            sku="x",
            operation_type="UPDATE",
            product_type="PRODUCT",
            attributes={
                "fulfillment_availability": [
                    {"fulfillment_channel_code": "DEFAULT", "quantity": 0, "lead_time_to_ship_max_days": 2}
                ]
            },
        ).to_wire()
    messages = []
    for n, sku in enumerate(skus, start=1):
        message = json.loads(json.dumps(template))
        message["messageId"], message["sku"] = n, sku
        if operation == "PATCH":
            message["patches"][0]["value"][0]["quantity"] = quantity_of(n)
        else:
            message["attributes"]["fulfillment_availability"][0]["quantity"] = quantity_of(n)
        messages.append(message)
    header = spapi.ListingsFeedHeader(seller_id=SELLER).to_wire()
    return json.dumps({"header": header, "messages": messages}, separators=(",", ":")).encode()


async def run_feed(client: spapi.SpApiClient, body: bytes, poll: float) -> tuple[spapi.Feed, spapi.ProcessingReport]:
    feed_id = await client.feeds.submit_feed(
        spapi.JSON_LISTINGS_FEED, body, content_type=CT, marketplace_ids=[MARKETPLACE]
    )
    feed = await client.feeds.wait_for_feed(feed_id, poll_interval=poll, timeout=300)
    report = await client.feeds.get_processing_report(feed)
    assert report is not None, f"feed {feed_id} ended {feed.processing_status} without a report"
    return feed, report


async def baseline(url: str, n: int) -> tuple[float, float]:
    async with httpx.AsyncClient(base_url=url, limits=httpx.Limits(max_connections=32)) as raw:
        await raw.get("/_sandbox/health")
        start = time.perf_counter()
        for _ in range(n):
            (await raw.get("/_sandbox/health")).raise_for_status()
        sequential = n / (time.perf_counter() - start)
        gate = asyncio.Semaphore(32)

        async def one() -> None:
            async with gate:
                (await raw.get("/_sandbox/health")).raise_for_status()

        start = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(n)))
        concurrent = n / (time.perf_counter() - start)
    return sequential, concurrent


async def main(url: str, speedup: float, feeds: int, messages: int) -> None:
    # Measured first, on an idle sandbox, so feed processing in its thread does not slow it down.
    sequential, concurrent = await baseline(url, 300)
    async with httpx.AsyncClient(timeout=120) as http:
        lwa = spapi.LwaClient(
            http, spapi.LwaCredentials(client_id="bench", client_secret="bench"), token_url=f"{url}/auth/o2/token"
        )
        limiter = spapi.RateLimiter(rate_scale=speedup)
        client = spapi.SpApiClient(
            endpoint=url,
            selling_partner_id=SELLER,
            token_source=spapi.LwaTokenSource(lwa, spapi_sandbox.DEFAULT_REFRESH_TOKEN),
            http=http,
            limiter=limiter,
            retry=spapi.RetryPolicy(max_attempts=5, base_delay=0.05, max_delay=1.0),
        )
        poll = 15.0 / speedup  # poll every 15 s of Amazon time

        # Seed: the SKUs are created through the SP-API itself (UPDATE feeds), which also spends the burst.
        skus = [f"BENCH-{i:05d}" for i in range(messages)]
        slices = [skus[i::FEEDS_PER_WINDOW] for i in range(FEEDS_PER_WINDOW)]
        seed_start = time.perf_counter()
        seeded = await asyncio.gather(
            *(run_feed(client, feed_bytes(part, lambda n: 0, "UPDATE"), poll) for part in slices)
        )
        created = sum(r.summary.messages_accepted for _, r in seeded)
        assert created == messages, f"seeding created {created} of {messages} SKUs"
        seed_seconds = time.perf_counter() - seed_start

        bodies = [feed_bytes(skus, lambda n, r=r: (n + r) % 1000, "PATCH") for r in range(1, feeds + 1)]
        bucket = limiter.bucket(SELLER, "feeds.createFeed:JSON_LISTINGS_FEED")
        tokens_at_start = bucket.available()

        start = time.perf_counter()
        results = await asyncio.gather(*(run_feed(client, body, poll) for body in bodies))
        wall = time.perf_counter() - start

        accepted = sum(r.summary.messages_accepted for _, r in results)
        processing = [
            (f.processing_end_time - f.processing_start_time).total_seconds()
            for f, _ in results
            if f.processing_end_time and f.processing_start_time
        ]
        async with httpx.AsyncClient(base_url=url) as admin:
            throttled_calls = (await admin.get("/_sandbox/requests", params={"status": 429})).json()
        throttled = len(throttled_calls)
        throttled_ops = sorted({r["operation"] for r in throttled_calls})

    amazon_seconds = wall * speedup
    measured = accepted / amazon_seconds  # SKU updates per Amazon second
    window_ceiling = (tokens_at_start + amazon_seconds * FEEDS_PER_WINDOW / WINDOW_SECONDS) * MAX_MESSAGES
    rate_wall = accepted / wall

    print("SP-API feed pipeline throughput (libs/spapi -> sandbox over HTTP)")
    print(f"  sandbox speed-up             {speedup:g}x (rates x{speedup:g}, delays /{speedup:g}; our limiter too)")
    print(f"  seeding                      {messages} SKUs via {FEEDS_PER_WINDOW} UPDATE feeds in {seed_seconds:.1f} s")
    print(f"  measured window              {feeds} feeds x {messages} PATCH messages, {wall:.1f} s wall")
    print(f"                               = {amazon_seconds:.0f} s of Amazon time")
    print(f"  accepted SKU updates         {accepted}")
    print(f"  sandbox processing per feed  {min(processing):.2f}-{max(processing):.2f} s wall" if processing else "")
    print(f"  429 responses                {throttled} {throttled_ops if throttled else ''}")
    token_interval = WINDOW_SECONDS / FEEDS_PER_WINDOW / speedup
    if processing and max(processing) > token_interval:
        print(
            f"  note: the sandbox needs up to {max(processing):.1f} s to process a feed but a token comes every "
            f"{token_interval:.1f} s, so the sandbox, not the client, bounds this run; try a lower --speedup"
        )
    print()
    print(f"  throughput (wall clock)      {rate_wall:,.0f} SKU updates/s")
    print(f"  throughput (Amazon time)     {measured:,.1f} SKU updates/s")
    print(f"  Amazon ceiling (sustained)   {AMAZON_CEILING:,.1f} SKU updates/s (5 x 25,000 per 300 s)")
    print(
        f"  rate / sustained ceiling     {measured / AMAZON_CEILING:.3f}"
        f"  (can exceed 1 in a short window: {tokens_at_start:.2f} banked tokens were spent too)"
    )
    print(f"  ceiling for this window      {window_ceiling:,.0f} SKUs ({tokens_at_start:.2f} tokens at start + refill)")
    print(f"  FRACTION OF CEILING          {accepted / window_ceiling:.3f}  (accepted / ceiling for this window)")
    print()
    print("Baseline (same run, raw httpx GET /_sandbox/health, no token/limiter/retries; the sandbox runs")
    print("in its own process)")
    print(f"  sequential round-trips       {sequential:,.0f} /s")
    print(f"  32 in flight                 {concurrent:,.0f} /s")
    best = max(sequential, concurrent)
    print(f"  feed pipeline / best raw per-SKU round-trip rate   {rate_wall / best:.1f}x  (wall clock)")
    print(
        f"  feed pipeline / patchListingsItem limit ({PATCH_LISTINGS_RATE:g} rps)   "
        f"{measured / PATCH_LISTINGS_RATE:.1f}x  (Amazon time)"
    )


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--speedup", type=float, default=5.0)
    parser.add_argument("--feeds", type=int, default=4)
    parser.add_argument("--messages", type=int, default=MAX_MESSAGES)
    args = parser.parse_args()
    if not 1 <= args.messages <= MAX_MESSAGES:
        parser.error(f"--messages must be 1..{MAX_MESSAGES}")
    with sandbox_process(args.speedup) as url:
        asyncio.run(main(url, args.speedup, args.feeds, args.messages))


@contextlib.contextmanager
def sandbox_process(speedup: float) -> Iterator[str]:
    """The sandbox in a process of its own, as `make up` runs it: its feed validation must not share our GIL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = ["-m", "spapi_sandbox", "--port", str(port), "--speedup", str(speedup), "--log-level", "warning"]
    child = subprocess.Popen([sys.executable, *command])
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/_sandbox/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if child.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the sandbox did not start")
            time.sleep(0.2)
        yield url
    finally:
        child.terminate()
        child.wait(timeout=30)


if __name__ == "__main__":
    cli()

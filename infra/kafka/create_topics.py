"""Creates every topic of the registry in libs/contracts (event and dead-letter topics) on a broker; idempotent."""

import asyncio
import sys

from contracts import kafka_topics
from messaging import ensure_topics

if __name__ == "__main__":
    bootstrap = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:19092"
    created = asyncio.run(ensure_topics(bootstrap, kafka_topics()))
    print(f"topics: {len(kafka_topics())} in the registry, {created} created")

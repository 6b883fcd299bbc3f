"""Creating the registry's topics on a broker: what `make kafka` and the test suite run before anything else."""

from __future__ import annotations

from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from contracts import KafkaTopic


async def ensure_topics(bootstrap_servers: str, topics: Iterable[KafkaTopic], replication: int = 1) -> int:
    """Creates the topics that do not exist yet (existing ones are left as they are); returns how many."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="topic-setup")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(t.name, t.partitions, replication, topic_configs=dict(t.configs))
            for t in topics
            if t.name not in existing
        ]
        if missing:
            await admin.create_topics(missing)
        return len(missing)
    finally:
        await admin.close()

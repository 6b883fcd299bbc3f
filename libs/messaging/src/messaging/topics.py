"""Creating the registry's topics on a broker: what `make kafka` and the test suite run before anything else."""

from __future__ import annotations

from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from contracts import KafkaTopic

from messaging.settings import namespaced


async def ensure_topics(
    bootstrap_servers: str, topics: Iterable[KafkaTopic], replication: int = 1, *, namespace: str = ""
) -> int:
    """Creates the topics (under `namespace`, if given) that do not exist yet; returns how many.

    Existing topics are left as they are.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="topic-setup")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(namespaced(namespace, t.name), t.partitions, replication, topic_configs=dict(t.configs))
            for t in topics
            if namespaced(namespace, t.name) not in existing
        ]
        if missing:
            await admin.create_topics(missing)
        return len(missing)
    finally:
        await admin.close()

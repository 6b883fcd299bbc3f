"""SQS helpers for tests: a client on the suite's endpoint and a queue of each test's own.

The endpoint is SQS_ENDPOINT_URL when set, else the repository's ElasticMQ (infra/elasticmq), which takes any
credentials; a real AWS account needs its own in the standard chain.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiobotocore.session import get_session

# ElasticMQ needs some credentials to sign with, any will do; real ones in the environment take precedence.
_LOCAL_CREDENTIALS = {"aws_access_key_id": "testkit", "aws_secret_access_key": "testkit"}


@contextlib.asynccontextmanager
async def sqs_client(endpoint_url: str) -> AsyncIterator[Any]:
    credentials = {} if os.environ.get("AWS_ACCESS_KEY_ID") else _LOCAL_CREDENTIALS
    region = os.environ.get("AWS_REGION", "us-east-1")
    async with get_session().create_client(
        "sqs", region_name=region, endpoint_url=endpoint_url, **credentials
    ) as client:
        yield client


@dataclass(frozen=True, slots=True)
class SqsQueue:
    """A Standard queue of one test, deleted afterwards. `client` is an aiobotocore SQS client on `endpoint_url`."""

    endpoint_url: str
    url: str
    name: str
    client: Any

    async def send(self, body: str) -> str:
        answer = await self.client.send_message(QueueUrl=self.url, MessageBody=body)
        return str(answer["MessageId"])

    async def counts(self) -> tuple[int, int]:
        """(visible, in flight): messages waiting, and messages received but neither deleted nor yet visible again."""
        answer = await self.client.get_queue_attributes(
            QueueUrl=self.url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )
        attributes = answer["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])

    async def empty(self) -> bool:
        return await self.counts() == (0, 0)


@contextlib.asynccontextmanager
async def sqs_queue(
    endpoint_url: str, *, visibility_timeout: int = 30, prefix: str = "test"
) -> AsyncIterator[SqsQueue]:
    name = f"{prefix}-{uuid.uuid4().hex[:12]}"
    async with sqs_client(endpoint_url) as client:
        created = await client.create_queue(QueueName=name, Attributes={"VisibilityTimeout": str(visibility_timeout)})
        try:
            yield SqsQueue(endpoint_url=endpoint_url, url=created["QueueUrl"], name=name, client=client)
        finally:
            with contextlib.suppress(Exception):  # the test may have stopped a private server
                await client.delete_queue(QueueUrl=created["QueueUrl"])

"""The SQS side of Amazon's notifications: a client on the application's queue and its calls, with SQS being away
told apart from a refusal of ours.

Amazon delivers notifications (ORDER_CHANGE, FEED_PROCESSING_FINISHED, ...) only into the SQS queue of a
destination; each message body is the notification document itself. Readers (orders-ingest's ORDER_CHANGE
intake, stock-publisher's finished feeds) long-poll with `receive`, decide each message, and `delete` what they
decided. Not imported by `spapi` itself: only readers need aiobotocore.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

log = logging.getLogger("spapi.sqs_queue")

BATCH = 10  # SQS's maximum per ReceiveMessage


class SqsUnreachable(ConnectionError):
    """botocore's connection errors are not OSErrors; as this one, servicekit treats them as an outage."""


def unreachable(exc: BaseException) -> bool:
    """SQS is away (connection, 5xx, throttling), as opposed to a refusal of ours (no such queue, access denied)."""
    if isinstance(exc, BotocoreConnectionError | HTTPClientError):
        return True
    if isinstance(exc, ClientError):
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        return status >= 500 or exc.response.get("Error", {}).get("Code") in ("ThrottlingException", "RequestThrottled")
    return False


@dataclass(frozen=True, kw_only=True, slots=True)
class QueueSettings:
    queue_url: str
    endpoint_url: str | None = None  # ElasticMQ locally; None is AWS's regional endpoint
    region: str = "us-east-1"
    wait_seconds: int = 20
    # Where malformed messages go, with their reason; None: they are only counted and logged.
    dead_letter_queue_url: str | None = None


@contextlib.asynccontextmanager
async def sqs_client(settings: QueueSettings) -> AsyncIterator[Any]:
    """Credentials come from the standard AWS chain (environment, profile, instance role); ElasticMQ takes any."""
    config = AioConfig(
        connect_timeout=5,
        read_timeout=settings.wait_seconds + 10,
        # The reader's own loop retries with backoff; botocore's retries would only hide the outage.
        retries={"max_attempts": 1, "mode": "standard"},
    )
    async with get_session().create_client(
        "sqs", region_name=settings.region, endpoint_url=settings.endpoint_url, config=config
    ) as client:
        yield client


class SqsQueue:
    """One queue's calls on an aiobotocore SQS client; SQS being away raises SqsUnreachable."""

    def __init__(self, client: Any, settings: QueueSettings) -> None:
        self.client = client
        self.settings = settings

    async def receive(self) -> list[dict[str, Any]]:
        """One long poll (`wait_seconds`) of up to 10 messages."""
        answer = await self._call(
            self.client.receive_message,
            QueueUrl=self.settings.queue_url,
            MaxNumberOfMessages=BATCH,
            WaitTimeSeconds=self.settings.wait_seconds,
        )
        messages: list[dict[str, Any]] = answer.get("Messages", [])
        return messages

    async def delete(self, receipt_handles: list[str]) -> None:
        if not receipt_handles:
            return
        entries = [{"Id": str(n), "ReceiptHandle": handle} for n, handle in enumerate(receipt_handles)]
        answer = await self._call(self.client.delete_message_batch, QueueUrl=self.settings.queue_url, Entries=entries)
        if failed := answer.get("Failed"):
            # Redelivered later, then a duplicate for the reader: harmless, but worth seeing.
            log.warning("SQS refused to delete %d messages", len(failed), extra={"codes": [f["Code"] for f in failed]})

    async def dead_letter(self, body: str, attributes: dict[str, str]) -> None:
        """Keeps a message on the dead-letter queue (if there is one) with string attributes saying why."""
        if self.settings.dead_letter_queue_url is None:
            return
        await self._call(
            self.client.send_message,
            QueueUrl=self.settings.dead_letter_queue_url,
            MessageBody=body or "(empty)",
            MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
        )

    @staticmethod
    async def _call(method: Any, **arguments: Any) -> Any:
        try:
            return await method(**arguments)
        except Exception as exc:
            if unreachable(exc):
                raise SqsUnreachable(type(exc).__name__) from exc
            raise

"""Reads ORDER_CHANGE from the application's SQS queue (Amazon's only push path) into the notification intake.

Long polls of up to 10 messages; each body is Amazon's notification document itself. A message is deleted once the
intake decided it: after its effect is committed, or at once when the intake drops it (counted by reason). A
malformed one is first copied to the dead-letter queue, with its reason as message attributes. When the
intake cannot commit (PostgreSQL away) the message stays, and SQS delivers it again after its visibility timeout.
An outage of SQS or PostgreSQL is ridden out with servicekit's policy (one warning, backoff, `worker_in_outage`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError
from servicekit import Outage, is_outage

from orders_ingest.notifications import NotificationIntake

log = logging.getLogger(__name__)

BATCH = 10  # SQS's maximum per ReceiveMessage


class SqsUnreachable(ConnectionError):
    """botocore's connection errors are not OSErrors; as this one, servicekit treats them as an outage."""


def _unreachable(exc: Exception) -> bool:
    if isinstance(exc, BotocoreConnectionError | HTTPClientError):
        return True
    # SQS answering 5xx or throttling is SQS being away too; any other refusal (no such queue, access denied) is ours.
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
        # Our own loop retries with backoff; botocore's retries would only hide the outage.
        retries={"max_attempts": 1, "mode": "standard"},
    )
    async with get_session().create_client(
        "sqs", region_name=settings.region, endpoint_url=settings.endpoint_url, config=config
    ) as client:
        yield client


class NotificationQueue:
    name = "notification-queue"

    def __init__(self, client: Any, settings: QueueSettings, intake: NotificationIntake) -> None:
        self._client = client
        self._settings = settings
        self._intake = intake
        self._outage = Outage(self.name)
        self._stopping = asyncio.Event()
        self._receiving: asyncio.Task[list[dict[str, Any]]] | None = None

    async def stop(self) -> None:
        # A long poll in flight is abandoned: its messages, if any, come back after their visibility timeout.
        # Messages already being handled are finished first.
        self._stopping.set()
        if self._receiving is not None:
            self._receiving.cancel()

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.poll_once()
            except asyncio.CancelledError:
                if self._stopping.is_set():
                    return
                raise
            except Exception as exc:
                if not is_outage(exc):
                    raise
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self._outage.failed(exc))
                continue
            self._outage.recovered()

    async def poll_once(self) -> int:
        """One long poll and its messages; returns how many were deleted."""
        self._receiving = asyncio.ensure_future(self._receive())
        try:
            messages = await self._receiving
        finally:
            self._receiving = None
        done: list[dict[str, str]] = []
        try:
            for message in messages:
                verdict = await self._intake.accept(message.get("Body", ""))
                if verdict.outcome.dropped:
                    log.warning(
                        "ORDER_CHANGE message dropped: %s%s",
                        verdict.outcome.value,
                        f" ({verdict.problem})" if verdict.problem else "",
                        extra={"outcome": verdict.outcome.value, "message_id": message.get("MessageId")},
                    )
                    if verdict.outcome.malformed:
                        await self._dead_letter(message, verdict.outcome.value, verdict.problem)
                done.append({"Id": str(len(done)), "ReceiptHandle": message["ReceiptHandle"]})
        finally:
            # What was decided before a failure is deleted even so; the rest stays for redelivery.
            if done:
                await self._delete(done)
        return len(done)

    async def _receive(self) -> list[dict[str, Any]]:
        try:
            answer = await self._client.receive_message(
                QueueUrl=self._settings.queue_url,
                MaxNumberOfMessages=BATCH,
                WaitTimeSeconds=self._settings.wait_seconds,
            )
        except Exception as exc:
            if _unreachable(exc):
                raise SqsUnreachable(type(exc).__name__) from exc
            raise
        messages: list[dict[str, Any]] = answer.get("Messages", [])
        return messages

    async def _dead_letter(self, message: dict[str, Any], reason: str, problem: str) -> None:
        """Kept before the original is deleted; if SQS refuses, the original stays and comes back."""
        if self._settings.dead_letter_queue_url is None:
            return
        attributes = {"reason": reason, "source_message_id": str(message.get("MessageId", ""))}
        if problem:
            attributes["problem"] = problem  # a path and a rule, never a value from the document
        try:
            await self._client.send_message(
                QueueUrl=self._settings.dead_letter_queue_url,
                MessageBody=message.get("Body") or "(empty)",
                MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
            )
        except Exception as exc:
            if _unreachable(exc):
                raise SqsUnreachable(type(exc).__name__) from exc
            raise

    async def _delete(self, entries: list[dict[str, str]]) -> None:
        try:
            answer = await self._client.delete_message_batch(QueueUrl=self._settings.queue_url, Entries=entries)
        except Exception as exc:
            if _unreachable(exc):
                raise SqsUnreachable(type(exc).__name__) from exc
            raise
        if failed := answer.get("Failed"):
            # Redelivered later and then a duplicate for the intake: harmless, but worth seeing.
            log.warning("SQS refused to delete %d messages", len(failed), extra={"codes": [f["Code"] for f in failed]})

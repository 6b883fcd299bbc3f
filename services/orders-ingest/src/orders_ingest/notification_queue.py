"""Reads ORDER_CHANGE from the application's SQS queue (Amazon's only push path) into the notification intake.

Long polls of up to 10 messages; each body is Amazon's notification document itself. A message is deleted once the
intake decided it: after its effect is committed, or at once when the intake drops it (counted by reason). A
malformed one is first copied to the dead-letter queue, with its reason as message attributes. When the
intake cannot commit (PostgreSQL away) the message stays, and SQS delivers it again after its visibility timeout.
An outage of SQS or PostgreSQL is ridden out with servicekit's policy (one warning, backoff, `worker_in_outage`).
"""

from __future__ import annotations

import logging
from typing import Any

from servicekit import LongPollWorker
from spapi.sqs_queue import QueueSettings, SqsQueue, sqs_client

from orders_ingest.notifications import NotificationIntake

log = logging.getLogger(__name__)

__all__ = ["NotificationQueue", "QueueSettings", "sqs_client"]


class NotificationQueue:
    name = "notification-queue"

    def __init__(self, client: Any, settings: QueueSettings, intake: NotificationIntake) -> None:
        self._queue = SqsQueue(client, settings)
        self._intake = intake
        self._worker = LongPollWorker(self.name, self._queue.receive, self._handle)

    async def run(self) -> None:
        await self._worker.run()

    async def stop(self) -> None:
        """A long poll in flight is abandoned (its messages come back after their visibility timeout); messages
        already being handled are finished first."""
        await self._worker.stop()

    async def _handle(self, messages: list[dict[str, Any]]) -> int:
        """Decides each message of one poll; returns how many were deleted."""
        done: list[str] = []
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
                done.append(message["ReceiptHandle"])
        finally:
            # What was decided before a failure is deleted even so; the rest stays for redelivery.
            await self._queue.delete(done)
        return len(done)

    async def _dead_letter(self, message: dict[str, Any], reason: str, problem: str) -> None:
        """Kept before the original is deleted; if SQS refuses, the original stays and comes back."""
        attributes = {"reason": reason, "source_message_id": str(message.get("MessageId", ""))}
        if problem:
            attributes["problem"] = problem  # a path and a rule, never a value from the document
        await self._queue.dead_letter(message.get("Body") or "", attributes)

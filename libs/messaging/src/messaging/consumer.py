"""The consumer loop: batches, one handler per topic, offsets committed only after the handler's effect.

Poison events (undecodable, invalid, or rejected by a handler) go to the dead-letter topic and are committed.
A PostgreSQL or Kafka outage met by a handler, a dead letter or a commit is ridden out (servicekit's outage
policy): the record is retried until the outage ends, and nothing behind it overtakes it. Any other handler
failure is retried a few times and then stops the loop, so the process exits and the events are redelivered
to a fresh process.

Batch handlers (`batch_routes`) take every decoded, valid event of a topic in one fetched batch, across its
partitions, in one call, so a service can apply them in one transaction instead of one per event. The events
of one partition keep their order in the list (so do the events of one key); undecodable or invalid records
are dead-lettered one by one before the call and never reach it; a tombstone applies the events before it in
the batch first, then itself, then the rest. The handler must be all or nothing (one transaction): either
every event took effect or none did. That is what makes the failure paths safe:

- an outage retries the whole batch until it ends (nothing of it was applied, so nothing is applied twice);
- any other failure (Rejected, a ContractError or ValidationError, a bug) says something in the batch is
  wrong but not which event: the loop then calls the handler with one event at a time, in the batch's order,
  with the per-event rules above. The bad event alone is dead-lettered (or, for a bug, retried and then the
  loop stops, as without batches), and the others are applied exactly as the per-event path would have. No
  retry of the whole batch first: a poison event fails the same way every time, and one-at-a-time is also
  the right answer to a transient non-outage failure (each single call has its own retries).

Offsets move only once the whole batch (or its one-at-a-time replay) is applied; a stop during an outage
leaves the batch uncommitted, so its poison records may be dead-lettered again by the next owner (at least
once, like every effect here).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import partial

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError
from aiokafka.structs import ConsumerRecord
from contracts import CloudEvent, ContractError, decode, topic_spec
from prometheus_client import Counter
from pydantic import ValidationError
from servicekit import Outage, is_outage

from messaging import dead_letter
from messaging.dead_letter import send_to_dead_letter
from messaging.metrics import EVENTS_HANDLED, HANDLER_RETRIES
from messaging.settings import KafkaSettings

log = logging.getLogger(__name__)

BATCH_FALLBACKS = Counter(
    "consumer_batch_fallbacks_total", "Batches whose handler failed, then applied one event at a time", ["topic"]
)

Handler = Callable[[CloudEvent], Awaitable[None]]  # type: ignore[type-arg]
# All decoded, valid events of one topic in one fetched batch; must apply all of them or none (one transaction).
BatchHandler = Callable[[list[CloudEvent]], Awaitable[None]]  # type: ignore[type-arg]
# Called with the record's key for a null value (a tombstone) on a compacted topic.
TombstoneHandler = Callable[[bytes | None], Awaitable[None]]
Decoder = Callable[[str, bytes, list[tuple[str, bytes]]], CloudEvent]  # type: ignore[type-arg]


class _StopRequested(Exception):
    """stop() arrived while a record waited out an outage: leave it uncommitted for the next owner."""


class Rejected(Exception):
    """Raised by a handler for an event that can never be applied (a business rule, not an outage)."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 5
    first_delay: float = 0.2
    max_delay: float = 5.0

    def delay(self, attempt: int) -> float:
        return random.uniform(0, min(self.max_delay, self.first_delay * 2**attempt))


class Consumer:
    name = "consumer"

    def __init__(
        self,
        settings: KafkaSettings,
        *,
        service: str,
        group_id: str,
        routes: Mapping[str, Handler] | None = None,
        producer: AIOKafkaProducer,
        batch_routes: Mapping[str, BatchHandler] | None = None,
        decoder: Decoder = decode,
        max_records: int = 500,
        retry: RetryPolicy = RetryPolicy(),
        tombstones: Mapping[str, TombstoneHandler] | None = None,
    ) -> None:
        """`routes` hands a handler one event at a time, `batch_routes` all of a topic's events of one fetched batch
        (see the module's docstring). `tombstones` routes null-value records of a topic to a handler; without one
        they are dead-lettered."""
        self._routes = dict(routes or {})
        self._batch_routes = dict(batch_routes or {})
        if not self._routes and not self._batch_routes:
            raise ValueError("a consumer needs at least one route")
        both = set(self._routes) & set(self._batch_routes)
        if both:
            raise ValueError(f"topics with a handler and a batch handler: {sorted(both)}")
        self._settings = settings
        self._service = service
        self._group_id = group_id
        # Wire name -> registry name: handlers, decoders and metrics only ever see registry names.
        self._registry_names = {settings.topic(name): name for name in [*self._routes, *self._batch_routes]}
        self._producer = producer
        self._decode = decoder
        self._max_records = max_records
        self._retry = retry
        self._tombstones = dict(tombstones or {})
        unknown = set(self._tombstones) - set(self._registry_names.values())
        if unknown:
            raise ValueError(f"tombstone handlers for topics without a route: {sorted(unknown)}")
        if decoder is decode:
            for name in self._registry_names.values():
                topic_spec(name)  # a route outside the registry is a configuration bug: fail at start
        self._stopping = asyncio.Event()
        self._outage = Outage(self.name)
        # Held while a batch is applied; the rebalance listener takes it so revocation waits for the batch.
        self._batch_lock = asyncio.Lock()
        self._positions: dict[TopicPartition, int] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self.running = False

    async def stop(self) -> None:
        self._stopping.set()

    async def ready(self) -> bool:
        return self.running and self._consumer is not None

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(
            **self._settings.connection_options(),
            client_id=f"{self._settings.client_id}-{self._service}",
            group_id=self._settings.group(self._group_id),
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            # Skip records of aborted producer transactions, should any producer use them.
            isolation_level="read_committed",
        )
        consumer.subscribe(list(self._registry_names), listener=_CommitOnRevoke(self))
        await consumer.start()
        self._consumer = consumer
        self.running = True
        try:
            while not self._stopping.is_set():
                batches = await consumer.getmany(timeout_ms=250, max_records=self._max_records)
                if not batches:
                    continue
                try:
                    async with self._batch_lock:
                        await self._apply_all(batches)
                except _StopRequested:
                    break
                await self._commit(list(batches))
        finally:
            self.running = False
            try:
                await self._commit(list(self._positions))
            finally:
                await consumer.stop()
                self._consumer = None

    async def _commit(self, partitions: list[TopicPartition]) -> None:
        assert self._consumer is not None
        offsets = {tp: self._positions[tp] for tp in partitions if tp in self._positions}
        if not offsets:
            return
        try:
            await self._consumer.commit(offsets)
        except CommitFailedError:
            # The group moved on; the listener already committed what we applied before revocation.
            log.warning("offset commit refused after a rebalance; the new owner resumes from the last commit")
        except Exception as exc:
            if not is_outage(exc):
                raise
            # The positions stay; the next batch's commit (or the one at stop) carries them.
            self._outage.failed(exc)
            return
        for tp in offsets:
            if tp not in self._consumer.assignment():
                self._positions.pop(tp, None)

    async def commit_revoked(self, revoked: set[TopicPartition]) -> None:
        async with self._batch_lock:
            if self._consumer is None:
                return
            offsets = {tp: self._positions.pop(tp) for tp in revoked if tp in self._positions}
            if offsets:
                try:
                    await self._consumer.commit(offsets)
                except CommitFailedError:
                    log.warning("could not commit revoked partitions; their last batch will be redelivered")

    async def _apply_all(self, batches: Mapping[TopicPartition, list[ConsumerRecord[bytes, bytes]]]) -> None:
        grouped: dict[str, list[tuple[TopicPartition, list[ConsumerRecord[bytes, bytes]]]]] = {}
        for tp, records in batches.items():
            topic = self._registry_names[tp.topic]
            if topic in self._batch_routes:
                grouped.setdefault(topic, []).append((tp, records))
                continue
            for record in records:
                await self._apply(record)
                self._positions[tp] = record.offset + 1
        for topic, partitions in grouped.items():
            await self._apply_batch(topic, partitions)

    async def _apply_batch(
        self, topic: str, partitions: list[tuple[TopicPartition, list[ConsumerRecord[bytes, bytes]]]]
    ) -> None:
        """Every record of `topic` in this fetch: one handler call for its valid events, see the module docstring."""
        pending: list[tuple[ConsumerRecord[bytes, bytes], CloudEvent]] = []  # type: ignore[type-arg]
        walked: dict[TopicPartition, int] = {}
        for tp, records in partitions:
            for record in records:
                if record.value is None:
                    # What came before the tombstone in its partition takes effect before it.
                    await self._flush(topic, pending)
                    pending = []
                    await self._apply(record)
                else:
                    event = await self._decoded(record, topic)
                    if event is not None:
                        pending.append((record, event))
                walked[tp] = record.offset + 1
        await self._flush(topic, pending)
        self._positions.update(walked)

    async def _flush(self, topic: str, pending: list[tuple[ConsumerRecord[bytes, bytes], CloudEvent]]) -> None:  # type: ignore[type-arg]
        if not pending:
            return
        handler = self._batch_routes[topic]
        events = [event for _, event in pending]
        try:
            await self._through_outages(lambda: handler(events))
        except _StopRequested:
            raise
        except Exception as exc:
            # Nothing of the batch took effect (the handler is all or nothing): find the bad event by applying
            # them one at a time, each with the per-event rules.
            BATCH_FALLBACKS.labels(topic).inc()
            log.warning(
                "batch handler failed; applying its events one at a time",
                extra={"topic": topic, "events": len(events), "error": type(exc).__name__},
            )
            for record, event in pending:
                where = {"topic": topic, "partition": record.partition, "offset": record.offset}
                await self._with_retries(record, topic, where, partial(handler, [event]), event_id=str(event.id))
            return
        EVENTS_HANDLED.labels(topic).inc(len(events))

    async def _decoded(self, record: ConsumerRecord[bytes, bytes], topic: str) -> CloudEvent | None:  # type: ignore[type-arg]
        """The record's event, or None when it was poison (then it is dead-lettered)."""
        assert record.value is not None
        try:
            return self._decode(topic, record.value, list(record.headers or ()))
        except ContractError as exc:
            error = str(exc)
        except Exception as exc:
            # Decoders should answer ContractError; whatever else one raises is still this record's fault, and
            # retrying or stopping would only meet the same bytes again.
            error = f"the decoder failed: {type(exc).__name__}"
        await self._poison(
            record, topic, {"topic": topic, "partition": record.partition, "offset": record.offset}, error
        )
        return None

    async def _apply(self, record: ConsumerRecord[bytes, bytes]) -> None:
        topic = self._registry_names[record.topic]
        where = {"topic": topic, "partition": record.partition, "offset": record.offset}
        if record.value is None:
            on_tombstone = self._tombstones.get(topic)
            if on_tombstone is None:
                await self._poison(record, topic, where, "null value (a tombstone) on a topic without tombstones")
                return
            key = record.key
            await self._with_retries(record, topic, where, lambda: on_tombstone(key), event_id=None)
            return
        event = await self._decoded(record, topic)
        if event is None:
            return
        handler = self._routes[topic]
        await self._with_retries(record, topic, where, lambda: handler(event), event_id=str(event.id))

    async def _poison(
        self, record: ConsumerRecord[bytes, bytes], topic: str, where: dict[str, object], error: str
    ) -> None:
        log.warning("invalid event sent to the dead-letter topic", extra=where)
        await self._dead_letter(record, topic, dead_letter.INVALID_EVENT, error)

    async def _dead_letter(self, record: ConsumerRecord[bytes, bytes], topic: str, reason: str, error: str) -> None:
        # The dead letter must reach the broker before the offset moves; a broker outage is ridden out here.
        async def send() -> None:
            await send_to_dead_letter(
                self._producer, self._service, record, reason, error, namespace=self._settings.namespace, topic=topic
            )

        await self._through_outages(send)

    async def _through_outages(self, call: Callable[[], Awaitable[None]]) -> None:
        """Runs `call` until it returns or fails with something other than an outage (which it raises)."""
        while True:
            try:
                await call()
            except Exception as exc:
                if not is_outage(exc):
                    raise
                delay = self._outage.failed(exc)
                try:
                    await asyncio.wait_for(self._stopping.wait(), delay)
                except TimeoutError:
                    continue
                raise _StopRequested from None
            else:
                self._outage.recovered()
                return

    async def _with_retries(
        self,
        record: ConsumerRecord[bytes, bytes],
        topic: str,
        where: dict[str, object],
        call: Callable[[], Awaitable[None]],
        *,
        event_id: str | None,
    ) -> None:
        attempt = 0
        while True:
            try:
                await self._through_outages(call)
            except _StopRequested:
                raise
            except Rejected as exc:
                log.warning("event rejected by its handler", extra={**where, "event_id": event_id})
                await self._dead_letter(record, topic, dead_letter.REJECTED, str(exc))
                return
            except (ContractError, ValidationError) as exc:
                # The handler validated the event further and it failed: the same bytes fail every time, so
                # it is poison like an undecodable record, not an outage to retry.
                if isinstance(exc, ValidationError):
                    exc = ContractError.from_validation_error(f"{topic}: invalid for its handler", exc)
                await self._poison(record, topic, where, str(exc))
                return
            except Exception:
                attempt += 1
                if attempt == self._retry.attempts:
                    log.exception("handler kept failing; stopping the consumer", extra=where)
                    raise
                HANDLER_RETRIES.labels(topic).inc()
                await asyncio.sleep(self._retry.delay(attempt - 1))
            else:
                EVENTS_HANDLED.labels(topic).inc()
                return


class _CommitOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, consumer: Consumer) -> None:
        self._consumer = consumer

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._consumer.commit_revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        return None

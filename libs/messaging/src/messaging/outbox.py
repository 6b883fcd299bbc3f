"""Transactional outbox: `add` writes in the caller's transaction; `OutboxRelay` publishes and marks rows sent.

Order per key: `add` takes a transaction-scoped advisory lock on (schema, topic, key), so two writers of one key
queue behind each other and their rows' ids follow their commit order; one relay per schema (the holder of a
session advisory lock) publishes rows in id order, so Kafka sees each key's events in commit order.
A crash between publish and mark re-publishes the same event (same id) later: at-least-once, deduped by inboxes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    CorruptRecordException,
    InvalidTopicError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    UnsupportedForMessageFormatError,
)
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from contracts import TOPICS, CloudEvent, encode, topic_spec
from servicekit import Outage, is_outage

from messaging.metrics import (
    OUTBOX_BACKLOG,
    OUTBOX_OLDEST_UNSENT_PII,
    OUTBOX_PARKED,
    OUTBOX_PUBLISHED,
    OUTBOX_STALE_PII,
    RELAY_LEADER,
)
from messaging.producer import MAX_REQUEST_BYTES
from messaging.settings import namespaced

log = logging.getLogger(__name__)

PII_TOPICS: frozenset[str] = frozenset(spec.name for spec in TOPICS if spec.pii)
"""Topics whose rows carry buyer PII: deleted from the outbox minutes after Kafka has them."""

# Park reasons (the `park_reason` column starts with one, and the `reason` label of outbox_parked_total).
TOO_LARGE = "too-large"
INVALID_TOPIC = "invalid-topic"
INVALID_RECORD = "invalid-record"

_KAFKA_TOPIC_NAME = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
_NEVER_ACCEPTED: dict[type[Exception], str] = {
    MessageSizeTooLargeError: TOO_LARGE,
    RecordListTooLargeError: TOO_LARGE,
    InvalidTopicError: INVALID_TOPIC,
    CorruptRecordException: INVALID_RECORD,
    UnsupportedForMessageFormatError: INVALID_RECORD,
}
_KEY_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended('outbox|' || current_schema() || '|' || $1 || '|' || $2, 0))"
_LEADER_LOCK = "hashtextextended('outbox-relay|' || current_schema(), 0)"
_SELECT = (
    "SELECT id, topic, key, value, header_keys, header_values FROM outbox"
    " WHERE sent_at IS NULL AND parked_at IS NULL ORDER BY id LIMIT $1"
)


async def add(conn: asyncpg.Connection, event: CloudEvent) -> None:  # type: ignore[type-arg]
    """Never commits: the row lands exactly when the caller's change does. The row keeps the registry topic.

    Call it inside the transaction of the change: a second writer of the same key waits here until this
    transaction ends. A transaction writing several keys should write them in a stable order (e.g. sorted), as
    with any lock, so two such transactions cannot deadlock.
    """
    record = encode(event)
    await _lock_key(conn, record.topic, record.key)
    await conn.execute(
        "INSERT INTO outbox (topic, key, value, header_keys, header_values, event_id) VALUES ($1, $2, $3, $4, $5, $6)",
        record.topic,
        record.key,
        record.value,
        [k for k, _ in record.headers],
        [v for _, v in record.headers],
        str(event.id),
    )


async def add_tombstone(conn: asyncpg.Connection, topic: str, key: bytes) -> None:
    """A null value on a compacted topic deletes the key (e.g. a disconnected connection)."""
    if topic_spec(topic).cleanup_policy != "compact":
        raise ValueError(f"{topic} is not compacted; a tombstone would delete nothing")
    if not key:
        raise ValueError("a tombstone needs the key it deletes")
    await _lock_key(conn, topic, key)
    await conn.execute("INSERT INTO outbox (topic, key, value) VALUES ($1, $2, NULL)", topic, key)


async def _lock_key(conn: asyncpg.Connection, topic: str, key: bytes | None) -> None:
    await conn.execute(_KEY_LOCK, topic, (key or b"").hex())


class OutboxRelay:
    """Publishes the outbox of its pool's schema, in id order, while it holds the schema's relay lock.

    Replicas each run one; the first to take the session advisory lock leads, the others stand by and retry
    the lock every `standby_seconds`, so one takes over within that time when the leader dies or loses its
    connection. Rows Kafka will never accept are parked with their reason, so they do not block the rows
    behind them. Sent rows of PII topics are deleted `keep_sent_pii` after they were sent, others after
    `keep_sent`; parked rows after `keep_parked` (parked PII rows lose their value at once).
    """

    name = "outbox-relay"

    def __init__(
        self,
        pool: asyncpg.Pool,
        producer: AIOKafkaProducer,
        *,
        batch_size: int = 500,
        idle_seconds: float = 0.1,
        standby_seconds: float = 1.0,
        keep_sent: timedelta = timedelta(hours=24),
        keep_sent_pii: timedelta = timedelta(minutes=1),
        keep_parked: timedelta = timedelta(days=7),
        pii_unsent_alert: timedelta = timedelta(minutes=15),
        purge_every: timedelta = timedelta(seconds=15),
        max_backoff: float = 5.0,
        after_publish: Callable[[int], Awaitable[None]] | None = None,
        namespace: str = "",
    ) -> None:
        """`namespace` is the KafkaSettings' one: rows hold registry topics, the wire gets namespaced names."""
        self._pool = pool
        self._producer = producer
        self._batch_size = batch_size
        self._idle = idle_seconds
        self._standby = standby_seconds
        self._keep_sent = keep_sent
        self._keep_sent_pii = keep_sent_pii
        self._keep_parked = keep_parked
        self._pii_unsent_alert = pii_unsent_alert
        self._purge_every = purge_every.total_seconds()
        self._max_backoff = max_backoff
        # Test seam: runs after the broker acknowledged a batch and before it is marked sent.
        self._after_publish = after_publish
        self._namespace = namespace
        self._leader: asyncpg.Connection | None = None
        self._stopping = asyncio.Event()
        self._wakeup = asyncio.Event()
        self._stale_pii_reported = False

    @property
    def is_leader(self) -> bool:
        return self._leader is not None

    def wake(self) -> None:
        """Lets a writer in this process skip the idle wait after committing an outbox row."""
        self._wakeup.set()

    async def stop(self) -> None:
        self._stopping.set()
        self._wakeup.set()

    async def run(self) -> None:
        """Leads or stands by until `stop()`. Outages are ridden out; any other error is a bug and ends it."""
        loop = asyncio.get_running_loop()
        outage = Outage(self.name, max_backoff=self._max_backoff, first_backoff=0.2)
        next_purge = 0.0
        try:
            while not self._stopping.is_set():
                try:
                    conn = await self._lead()
                    if conn is not None:
                        if loop.time() >= next_purge:
                            await self._purge_and_measure(conn)
                            next_purge = loop.time() + self._purge_every
                        published = await self._publish(conn)
                except Exception as exc:
                    # A leader whose session died has lost its lead, whatever asyncpg raised on the way (a backend
                    # killed mid-query can surface as InternalClientError rather than a connection error).
                    lost = self._leader_lost()
                    await self._resign()
                    if not (is_outage(exc) or lost):
                        raise
                    # Nothing is lost while Kafka or PostgreSQL is away: rows stay unsent and /readyz says so.
                    await self._pause(outage.failed(exc), wakeable=False)
                    continue
                outage.recovered()
                if conn is None:
                    await self._pause(self._standby, wakeable=False)
                elif published == 0:
                    await self._pause(self._idle, wakeable=True)
        finally:
            await self._resign()

    async def publish_batch(self) -> int:
        """Publishes one batch if this relay leads or can take the lead now; returns the rows it handled.

        For a one-off run (tests, tools): the lead is given back afterwards unless `run()` holds it.
        """
        if self._leader is not None:
            return await self._publish(self._leader)
        conn = await self._lead()
        if conn is None:
            return 0
        try:
            return await self._publish(conn)
        finally:
            await self._resign()

    async def purge_and_measure(self) -> None:
        """Deletes what the outbox need not keep any more and sets the backlog and PII gauges."""
        async with self._pool.acquire() as conn:
            await self._purge_and_measure(conn)

    async def _lead(self) -> asyncpg.Connection | None:
        if self._leader is not None:
            return self._leader
        conn = await self._pool.acquire()
        try:
            leads = await conn.fetchval(f"SELECT pg_try_advisory_lock({_LEADER_LOCK})")
        except BaseException:
            await self._pool.release(conn)
            raise
        if not leads:
            await self._pool.release(conn)
            return None
        self._leader = conn
        RELAY_LEADER.set(1)
        log.info("outbox relay leads its schema's outbox")
        return conn

    def _leader_lost(self) -> bool:
        if self._leader is None:
            return False
        try:
            return bool(self._leader.is_closed())
        except asyncpg.InterfaceError:
            return True  # the pool took the dead connection back already

    async def _resign(self) -> None:
        conn, self._leader = self._leader, None
        if conn is None:
            return
        RELAY_LEADER.set(0)
        try:
            if not conn.is_closed():
                await conn.execute(f"SELECT pg_advisory_unlock({_LEADER_LOCK})")
        except Exception as exc:
            if not is_outage(exc):
                raise
            # The connection is gone, and with it the session lock.
        finally:
            await self._pool.release(conn)

    async def _publish(self, conn: asyncpg.Connection) -> int:
        rows = await conn.fetch(_SELECT, self._batch_size)
        if not rows:
            return 0
        parked: list[tuple[asyncpg.Record, str, str]] = []
        sent: list[asyncpg.Record] = []
        # Rows the broker refused as too large, maybe only because of the batch they shared; each is retried alone.
        alone: list[asyncpg.Record] = []
        transient: BaseException | None = None
        pending: list[tuple[asyncpg.Record, asyncio.Future[Any]]] = []
        for row in rows:
            problem = _never_sendable(row)
            if problem is not None:
                parked.append((row, *problem))
                continue
            try:
                pending.append((row, await self._send(row)))
            except Exception as exc:
                reason = _never_accepted(exc)
                if reason is None:
                    # An outage (or a bug): rows behind this one stay unsent, so none of its key overtakes it.
                    transient = exc
                    break
                parked.append((row, reason, _detail(exc, row)))
        results = await asyncio.gather(*(future for _, future in pending), return_exceptions=True)
        for (row, _), result in zip(pending, results, strict=True):
            if not isinstance(result, BaseException):
                sent.append(row)
            elif isinstance(result, MessageSizeTooLargeError | RecordListTooLargeError):
                alone.append(row)
            elif (reason := _never_accepted(result)) is not None:
                parked.append((row, reason, _detail(result, row)))
            elif transient is None:
                transient = result
        for row in alone:
            if transient is not None:
                break
            try:
                await (await self._send(row))
            except Exception as exc:
                reason = _never_accepted(exc)
                if reason is None:
                    transient = exc
                else:
                    parked.append((row, reason, _detail(exc, row)))
            else:
                sent.append(row)
        if self._after_publish is not None:
            await self._after_publish(len(sent))
        await self._mark(conn, sent, parked)
        if transient is not None:
            # What Kafka acknowledged is marked; the rest waits for the outage to end.
            raise transient
        return len(sent) + len(parked)

    async def _send(self, row: asyncpg.Record) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = await self._producer.send(
            namespaced(self._namespace, row["topic"]),
            value=row["value"],
            key=row["key"],
            headers=list(zip(row["header_keys"], row["header_values"], strict=True)),
        )
        return future

    async def _mark(
        self,
        conn: asyncpg.Connection,
        sent: Sequence[asyncpg.Record],
        parked: Sequence[tuple[asyncpg.Record, str, str]],
    ) -> None:
        async with conn.transaction():
            if sent:
                await conn.execute(
                    "UPDATE outbox SET sent_at = now() WHERE id = ANY($1::bigint[])", [r["id"] for r in sent]
                )
            if parked:
                # A parked row will never be sent, so a PII topic's row has no reason to keep its value.
                await conn.executemany(
                    "UPDATE outbox SET parked_at = now(), park_reason = $2,"
                    " value = CASE WHEN topic = ANY($3::text[]) THEN NULL ELSE value END WHERE id = $1",
                    [(r["id"], f"{reason}: {detail}", sorted(PII_TOPICS)) for r, reason, detail in parked],
                )
        for r in sent:
            OUTBOX_PUBLISHED.labels(r["topic"]).inc()
        for r, reason, _ in parked:
            OUTBOX_PARKED.labels(r["topic"], reason).inc()
            log.error(
                "outbox row parked: Kafka will never accept it",
                extra={"outbox_id": r["id"], "topic": r["topic"], "reason": reason},
            )

    async def _purge_and_measure(self, conn: asyncpg.Connection) -> None:
        pii = sorted(PII_TOPICS)
        await conn.execute(
            "DELETE FROM outbox WHERE sent_at < now() - $1::interval"
            " OR (sent_at < now() - $2::interval AND topic = ANY($3::text[]))"
            " OR parked_at < now() - $4::interval",
            self._keep_sent,
            self._keep_sent_pii,
            pii,
            self._keep_parked,
        )
        measures = await conn.fetchrow(
            "SELECT count(*) FILTER (WHERE parked_at IS NULL) AS backlog,"
            " coalesce(extract(epoch FROM now() - min(created_at) FILTER"
            "   (WHERE parked_at IS NULL AND topic = ANY($1::text[]))), 0) AS oldest_pii,"
            " count(*) FILTER (WHERE parked_at IS NULL AND topic = ANY($1::text[])"
            "   AND created_at < now() - $2::interval) AS stale_pii"
            " FROM outbox WHERE sent_at IS NULL",
            pii,
            self._pii_unsent_alert,
        )
        OUTBOX_BACKLOG.set(measures["backlog"])
        OUTBOX_OLDEST_UNSENT_PII.set(float(measures["oldest_pii"]))
        OUTBOX_STALE_PII.set(measures["stale_pii"])
        stale = measures["stale_pii"] > 0
        if stale and not self._stale_pii_reported:
            rows = measures["stale_pii"]
            log.error("outbox holds unsent PII rows older than %s", self._pii_unsent_alert, extra={"rows": rows})
        self._stale_pii_reported = stale

    async def _pause(self, seconds: float, *, wakeable: bool) -> None:
        if self._stopping.is_set():
            return
        if wakeable:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), seconds)
            self._wakeup.clear()
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)


def _never_sendable(row: asyncpg.Record) -> tuple[str, str] | None:
    """Rows no broker takes, found before sending: a send would only time out on metadata, again and again."""
    topic = row["topic"]
    if not _KAFKA_TOPIC_NAME.match(topic) or topic in (".", ".."):
        return INVALID_TOPIC, "not a valid Kafka topic name"
    if topic not in _REGISTRY:
        return INVALID_TOPIC, "not a topic of the contracts registry"
    if row["key"] is None and row["value"] is None:
        return INVALID_RECORD, "neither key nor value"
    headers = list(zip(row["header_keys"], row["header_values"], strict=True))
    size = DefaultRecordBatchBuilder.estimate_size_in_bytes(row["key"], row["value"], headers)
    if size > MAX_REQUEST_BYTES:
        return TOO_LARGE, f"{size} bytes, more than the {MAX_REQUEST_BYTES} a record may have"
    return None


def _never_accepted(exc: BaseException) -> str | None:
    return next((reason for kind, reason in _NEVER_ACCEPTED.items() if isinstance(exc, kind)), None)


def _detail(exc: BaseException, row: asyncpg.Record) -> str:
    size = len(row["value"] or b"") + len(row["key"] or b"")
    return f"{type(exc).__name__} ({size} bytes of key and value)"


_REGISTRY = frozenset(spec.name for spec in TOPICS)

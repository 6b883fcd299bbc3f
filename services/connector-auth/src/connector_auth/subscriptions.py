"""Every active connection's ORDER_CHANGE subscription on the application's SQS destination, kept in step.

connector-auth owns this because it alone holds the LWA client credentials that the grantless destination and
subscription-by-id calls need, and it is where connections become active and are disconnected.

The wanted state comes from `connections` (active with a seller: subscribed; disconnected: not), so nothing
here can block or undo a status change. A worker reconciles after every connection change (`wake`, via
Deps.published) and every `every` seconds; an Amazon failure is recorded on the connection's row
(`notification_subscriptions.last_error`, `attempts`) and retried after an exponential wait. What is recorded is
checked against Amazon at start and every `verify_every` seconds: a destination or subscription Amazon no longer
has (deleted in Seller Central, or a restarted sandbox) is forgotten, so the next pass subscribes again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg
import servicekit
import spapi
from prometheus_client import Counter

from connector_auth.deps import Deps

log = logging.getLogger(__name__)

NOTIFICATION_TYPE = spapi.ORDER_CHANGE
PAYLOAD_VERSION = "1.0"

CHANGES = Counter(
    "connector_auth_notification_subscription_changes_total",
    "ORDER_CHANGE subscription calls to Amazon, by action (subscribe, unsubscribe) and outcome (ok, failed)",
    ["action", "outcome"],
)


@dataclass(frozen=True, slots=True)
class _Due:
    connection_id: str
    region: str
    selling_partner_id: str
    subscription_id: str | None
    attempts: int


class Subscriptions:
    """The reconciling worker; `tick()` does one pass and returns how many connections it changed."""

    name = "notification-subscriptions"

    def __init__(
        self,
        deps: Deps,
        *,
        queue_arn: str,
        destination_name: str,
        every: float = 300.0,
        verify_every: float = 3600.0,
        retry_base: float = 30.0,
        retry_max: float = 3600.0,
        retry: spapi.RetryPolicy | None = None,
    ) -> None:
        self._deps = deps
        self.queue_arn = queue_arn
        self._destination_name = destination_name
        self._retry_base = retry_base
        self._retry_max = retry_max
        # Amazon's 429/5xx are retried briefly inside a pass; longer trouble waits for a later pass.
        self._retry = retry or spapi.RetryPolicy(max_attempts=3)
        self._grantless: dict[str, spapi.GrantlessNotificationsApi] = {}
        self._verify_every = timedelta(seconds=verify_every)
        self._next_verify: datetime | None = None  # None: at the first pass
        self._worker = servicekit.PeriodicWorker(self.name, self._tick, every=every)

    def wake(self) -> None:
        self._worker.wake()

    async def run(self) -> None:
        await self._worker.run()

    async def stop(self) -> None:
        await self._worker.stop()

    async def _tick(self) -> None:
        await self.tick()

    async def tick(self) -> int:
        now = self._deps.clock()
        if self._next_verify is None or now >= self._next_verify:
            await self.verify()
            self._next_verify = now + self._verify_every
        changed = 0
        for due in await self._due(now):
            action = "unsubscribe" if due.subscription_id else "subscribe"
            try:
                if due.subscription_id:
                    await self._unsubscribe(due, now)
                else:
                    await self._subscribe(due, now)
            except Exception as exc:
                if servicekit.is_outage(exc):
                    raise
                CHANGES.labels(action, "failed").inc()
                await self._failed(due, now, _describe(exc))
                log.warning(
                    "notification subscription change failed",
                    extra={"connection_id": due.connection_id, "action": action, "error": _describe(exc)},
                )
                continue
            CHANGES.labels(action, "ok").inc()
            changed += 1
        return changed

    async def _due(self, now: datetime) -> list[_Due]:
        async with self._deps.pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT c.id, c.region, c.selling_partner_id, s.subscription_id, coalesce(s.attempts, 0) AS attempts"
                " FROM connections c LEFT JOIN notification_subscriptions s ON s.connection_id = c.id"
                " WHERE c.selling_partner_id IS NOT NULL"
                " AND ((c.status = 'active' AND s.subscription_id IS NULL)"
                " OR (c.status = 'disconnected' AND s.subscription_id IS NOT NULL))"
                " AND (s.next_attempt_at IS NULL OR s.next_attempt_at <= $1)"
                " ORDER BY c.id",
                now,
            )
        return [_Due(r["id"], r["region"], r["selling_partner_id"], r["subscription_id"], r["attempts"]) for r in rows]

    async def verify(self) -> int:
        """Forgets recorded destinations and subscriptions Amazon no longer has; returns how many were forgotten."""
        async with self._deps.pool.acquire() as conn:
            destinations = await conn.fetch(
                "SELECT region, destination_id FROM notification_destinations WHERE arn = $1", self.queue_arn
            )
            subscribed = await conn.fetch(
                "SELECT c.id, c.region, c.selling_partner_id, s.subscription_id, s.destination_id, s.attempts"
                " FROM connections c JOIN notification_subscriptions s ON s.connection_id = c.id"
                " WHERE c.status = 'active' AND c.selling_partner_id IS NOT NULL AND s.subscription_id IS NOT NULL"
            )
        forgotten = 0
        for row in destinations:
            try:
                if await self._existing(self._api(row["region"])) == row["destination_id"]:
                    continue
            except spapi.SpApiError:
                continue  # Amazon cannot say now: keep what we know, the next check asks again
            async with self._deps.pool.acquire() as conn:
                await conn.execute(
                    "DELETE FROM notification_destinations WHERE region = $1 AND destination_id = $2",
                    row["region"],
                    row["destination_id"],
                )
            forgotten += 1
        for row in subscribed:
            due = _Due(row["id"], row["region"], row["selling_partner_id"], row["subscription_id"], row["attempts"])
            try:
                found = await self._seller(due).notifications.get_subscription(
                    NOTIFICATION_TYPE, payload_version=PAYLOAD_VERSION
                )
            except spapi.SpApiError:
                continue
            if found is not None and found.subscription_id == due.subscription_id:
                continue
            async with self._deps.pool.acquire() as conn:
                await conn.execute(
                    "UPDATE notification_subscriptions SET subscription_id = NULL, next_attempt_at = NULL"
                    " WHERE connection_id = $1 AND subscription_id = $2",
                    due.connection_id,
                    due.subscription_id,
                )
            forgotten += 1
            log.warning(
                "Amazon no longer has the seller's ORDER_CHANGE subscription",
                extra={"connection_id": due.connection_id},
            )
        return forgotten

    def _seller(self, due: _Due) -> spapi.SpApiClient:
        return spapi.SpApiClient(
            endpoint=self._deps.spapi_endpoint(due.region),
            selling_partner_id=due.selling_partner_id,
            token_source=self._deps.access_tokens.source(due.connection_id),
            http=self._deps.http,
            limiter=self._deps.limiter,
            retry=self._retry,
        )

    async def _subscribe(self, due: _Due, now: datetime) -> None:
        destination_id = await self.destination_id(due.region)
        seller = self._seller(due)
        try:
            subscription = await seller.notifications.create_subscription(
                NOTIFICATION_TYPE, destination_id, payload_version=PAYLOAD_VERSION
            )
        except spapi.SpApiError as exc:
            # 409: the seller is already subscribed (an earlier pass died before recording it); adopt it.
            if exc.status != 409:
                raise
            found = await seller.notifications.get_subscription(NOTIFICATION_TYPE, payload_version=PAYLOAD_VERSION)
            if found is None:
                raise
            subscription = found
        async with self._deps.pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO notification_subscriptions (connection_id, notification_type, destination_id,"
                " subscription_id, subscribed_at, unsubscribed_at, attempts, last_error, next_attempt_at, updated_at)"
                " VALUES ($1, $2, $3, $4, $5, NULL, 0, NULL, NULL, $5)"
                " ON CONFLICT (connection_id) DO UPDATE SET destination_id = $3, subscription_id = $4,"
                " subscribed_at = $5, unsubscribed_at = NULL, attempts = 0, last_error = NULL,"
                " next_attempt_at = NULL, updated_at = $5",
                due.connection_id,
                NOTIFICATION_TYPE,
                subscription.destination_id,
                subscription.subscription_id,
                now,
            )
        log.info("seller subscribed to ORDER_CHANGE", extra={"connection_id": due.connection_id})

    async def _unsubscribe(self, due: _Due, now: datetime) -> None:
        assert due.subscription_id is not None
        try:
            await self._api(due.region).delete_subscription_by_id(NOTIFICATION_TYPE, due.subscription_id)
        except spapi.NotFound:
            pass  # already gone at Amazon: the wanted state holds
        async with self._deps.pool.acquire() as conn:
            await conn.execute(
                "UPDATE notification_subscriptions SET subscription_id = NULL, unsubscribed_at = $2, attempts = 0,"
                " last_error = NULL, next_attempt_at = NULL, updated_at = $2 WHERE connection_id = $1",
                due.connection_id,
                now,
            )
        log.info("seller unsubscribed from ORDER_CHANGE", extra={"connection_id": due.connection_id})

    async def destination_id(self, region: str) -> str:
        """The application's destination for the queue in `region`: recorded, else found at Amazon, else created."""
        async with self._deps.pool.acquire() as conn:
            known = await conn.fetchval(
                "SELECT destination_id FROM notification_destinations WHERE region = $1 AND arn = $2",
                region,
                self.queue_arn,
            )
        if known is not None:
            return str(known)
        api = self._api(region)
        destination_id = await self._existing(api)
        if destination_id is None:
            try:
                destination_id = (
                    await api.create_destination(self._destination_name, sqs_arn=self.queue_arn)
                ).destination_id
            except spapi.SpApiError as exc:
                # 409: another replica (or a pass that died) created it first.
                if exc.status != 409 or (destination_id := await self._existing(api)) is None:
                    raise
        async with self._deps.pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO notification_destinations (region, arn, destination_id, created_at)"
                " VALUES ($1, $2, $3, $4) ON CONFLICT (region, arn) DO UPDATE SET destination_id = $3",
                region,
                self.queue_arn,
                destination_id,
                self._deps.clock(),
            )
        return destination_id

    async def _existing(self, api: spapi.GrantlessNotificationsApi) -> str | None:
        for destination in await api.get_destinations():
            if destination.resource.sqs is not None and destination.resource.sqs.arn == self.queue_arn:
                return destination.destination_id
        return None

    def _api(self, region: str) -> spapi.GrantlessNotificationsApi:
        api = self._grantless.get(region)
        if api is None:
            api = self._grantless[region] = spapi.grantless_client(
                endpoint=self._deps.spapi_endpoint(region),
                lwa=self._deps.lwa,
                http=self._deps.http,
                limiter=self._deps.limiter,
                retry=self._retry,
            )
        return api

    async def _failed(self, due: _Due, now: datetime, error: str) -> None:
        attempts = due.attempts + 1
        wait = timedelta(seconds=min(self._retry_max, self._retry_base * 2 ** (attempts - 1)))
        async with self._deps.pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO notification_subscriptions (connection_id, notification_type, attempts, last_error,"
                " next_attempt_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)"
                " ON CONFLICT (connection_id) DO UPDATE SET attempts = $3, last_error = $4, next_attempt_at = $5,"
                " updated_at = $6",
                due.connection_id,
                NOTIFICATION_TYPE,
                attempts,
                error,
                now + wait,
                now,
            )


async def status_of(conn: asyncpg.Connection, connection_id: str) -> asyncpg.Record | None:
    """The connection's subscription row (subscription_id, attempts, last_error, ...), for the admin view and tests."""
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT * FROM notification_subscriptions WHERE connection_id = $1", connection_id
    )
    return row


def _describe(exc: Exception) -> str:
    # Amazon's codes and the status say what went wrong; messages and token details stay out.
    if isinstance(exc, spapi.SpApiError):
        codes = ",".join(exc.codes)
        return f"{exc.operation}: {type(exc).__name__} status={exc.status} codes={codes}"
    return type(exc).__name__

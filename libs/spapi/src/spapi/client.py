"""One seller connection's door to the SP-API: rate limit, token, request, retry, typed error."""

from __future__ import annotations

import asyncio
import gzip
import logging
import platform
import random
from collections.abc import Mapping
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from .auth import RefreshableTokenSource, TokenSource
from .errors import AmazonError, OutcomeUnknown, RequestTimeout, SpApiError, error_for_status
from .feeds import FeedsApi
from .listings import ListingsApi
from .notifications import NotificationsApi
from .operations import Operation
from .orders import OrdersApi, OrdersV0Api
from .rate_limit import Priority, RateLimiter
from .reports import ReportsApi
from .retry import (
    RetryPolicy,
    Sleep,
    is_retryable_transport_error,
    parse_retry_after,
    send_with_retries,
)
from .sellers import SellersApi

log = logging.getLogger("spapi.client")

DEFAULT_USER_AGENT = (
    f"amazon-connector-spapi/0.1 (Language=Python/{platform.python_version()}; Platform={platform.system()})"
)


class SpApiClient:
    """Calls Amazon for one selling partner at one endpoint (a region's host, or the sandbox).

    Every call waits for its (selling partner, operation) bucket in `limiter`, which should be
    shared by all clients of the process so two clients of one seller do not double its rate.
    """

    def __init__(
        self,
        *,
        endpoint: str,
        selling_partner_id: str,
        token_source: TokenSource,
        http: httpx.AsyncClient | None = None,
        limiter: RateLimiter | None = None,
        retry: RetryPolicy | None = None,
        user_agent: str = DEFAULT_USER_AGENT,
        timeout: float = 30.0,
        rng: random.Random | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.selling_partner_id = selling_partner_id
        self._token_source = token_source
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(timeout=timeout)
        self.limiter = limiter or RateLimiter()
        self.retry = retry or RetryPolicy()
        self._user_agent = user_agent
        self._rng = rng or random.Random()  # jitter, not cryptography
        self._sleep = sleep

        self.orders = OrdersApi(self)
        self.orders_v0 = OrdersV0Api(self)
        self.feeds = FeedsApi(self)
        self.listings = ListingsApi(self)
        self.sellers = SellersApi(self)
        self.reports = ReportsApi(self)
        self.notifications = NotificationsApi(self)

    async def __aenter__(self) -> SpApiClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    def __repr__(self) -> str:
        return f"SpApiClient(endpoint={self.endpoint!r}, selling_partner_id={self.selling_partner_id!r})"

    async def call(
        self,
        operation: Operation,
        *,
        path_params: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        priority: Priority | None = None,
        limit_key: str | None = None,
        max_wait: float | None = None,
    ) -> httpx.Response:
        """Send one operation with rate limiting and retries; returns the 2xx response.

        `limit_key` selects a rate-limit bucket other than the operation's own (e.g. one feed type).
        `max_wait` bounds each wait for a rate-limit token: past it the call raises RateLimited with
        the seconds until a token is free (for callers with a person waiting, such as an admin API).
        """
        url = self.endpoint + _expand(operation.path, path_params or {})
        query = _query(params or {})
        bucket = limit_key or operation.key
        chosen_priority = operation.priority if priority is None else priority
        retry_number = 0
        refreshed_token = False
        while True:
            await self.limiter.acquire(self.selling_partner_id, bucket, chosen_priority, max_wait=max_wait)
            token = await self._token_source.access_token()
            headers = {"x-amz-access-token": token, "user-agent": self._user_agent, "accept": "application/json"}
            try:
                response = await self._http.request(operation.method, url, params=query, json=json, headers=headers)
            except httpx.TransportError as exc:
                if retry_number + 1 < self.retry.max_attempts and is_retryable_transport_error(
                    exc, request_is_idempotent=operation.idempotent
                ):
                    retry_number += 1
                    delay = self.retry.delay(retry_number, None, self._rng)
                    _log_retry(operation, None, retry_number, delay, None, type(exc).__name__)
                    await self._sleep(delay)
                    continue
                raise _transport_error(operation, exc) from None

            self.limiter.observe(self.selling_partner_id, bucket, response.headers.get("x-amzn-ratelimit-limit"))
            request_id = response.headers.get("x-amzn-requestid")
            status = response.status_code
            if status < 300:
                log.debug(
                    "spapi call ok", extra={"operation": operation.key, "status": status, "request_id": request_id}
                )
                return response
            if status == 429:
                self.limiter.throttled(self.selling_partner_id, bucket)
            if status in (401, 403) and not refreshed_token and isinstance(self._token_source, RefreshableTokenSource):
                # The token may have expired or been revoked since it was cached: one fresh
                # token, then the refusal stands.
                refreshed_token = True
                self._token_source.invalidate(token)
                log.info("spapi token refused, renewing once", extra={"operation": operation.key, "status": status})
                continue
            if status in self.retry.retry_statuses and retry_number + 1 < self.retry.max_attempts:
                retry_number += 1
                retry_after = parse_retry_after(response.headers.get("retry-after"))
                delay = self.retry.delay(retry_number, retry_after, self._rng)
                _log_retry(operation, status, retry_number, delay, request_id, None)
                await self._sleep(delay)
                continue
            raise _status_error(operation, response, secrets=(token,))

    async def upload(self, url: str, content: bytes, content_type: str, *, operation: str = "feeds.upload") -> None:
        """PUT a document to a presigned URL. The token never goes there, and Content-Type must
        equal the one given to createFeedDocument or the upload is refused."""

        async def send() -> httpx.Response:
            return await self._http.put(url, content=content, headers={"content-type": content_type})

        response = await self._transfer(operation, send)
        await response.aclose()

    async def download(self, url: str, compression: str | None, *, operation: str = "download") -> bytes:
        """GET a document from a presigned URL, gunzipping it when Amazon says GZIP."""
        return (await self.download_typed(url, compression, operation=operation))[0]

    async def download_typed(
        self, url: str, compression: str | None, *, operation: str = "download"
    ) -> tuple[bytes, str | None]:
        """As `download`, with the download's Content-Type (reports name their charset only there)."""

        async def send() -> httpx.Response:
            return await self._http.get(url)

        response = await self._transfer(operation, send)
        body, content_type = response.content, response.headers.get("content-type")
        if compression is not None and compression.upper() == "GZIP":
            return gzip.decompress(body), content_type
        # Some stores serve gzip without saying so in the document metadata.
        if body[:2] == b"\x1f\x8b":
            return gzip.decompress(body), content_type
        return body, content_type

    async def _transfer(self, operation: str, send: Any) -> httpx.Response:
        try:
            # A PUT of the same bytes to the same key is idempotent, as is a GET.
            response: httpx.Response = await send_with_retries(
                send, policy=self.retry, rng=self._rng, sleep=self._sleep, idempotent=True
            )
        except httpx.TransportError as exc:
            raise _transport_error_named(operation, exc) from None
        if response.status_code >= 300:
            raise error_for_status(response.status_code)(
                operation, status=response.status_code, reason="presigned URL transfer failed"
            )
        return response


def _expand(template: str, path_params: Mapping[str, str]) -> str:
    # Everything is escaped, "/" included: SKUs may contain it and must stay one path segment.
    return template.format(**{k: quote(str(v), safe="") for k, v in path_params.items()})


def _query(params: Mapping[str, Any]) -> list[tuple[str, str | int | float | bool | None]]:
    query: list[tuple[str, str | int | float | bool | None]] = []
    for name, value in params.items():
        if value is None:
            continue
        if isinstance(value, list | tuple):
            if not value:
                continue
            # Swagger 2.0's default collectionFormat is csv, and every array parameter we use is csv.
            query.append((name, ",".join(str(v) for v in value)))
        elif isinstance(value, bool):
            query.append((name, "true" if value else "false"))
        else:
            query.append((name, str(value)))
    return query


def _amazon_errors(response: httpx.Response, secrets: tuple[str, ...]) -> list[AmazonError]:
    try:
        payload = response.json()
    except ValueError:
        return []
    raw = payload.get("errors") if isinstance(payload, dict) else None
    if not isinstance(raw, list):
        return []
    errors: list[AmazonError] = []
    for item in raw:
        if not isinstance(item, dict) or "code" not in item:
            continue
        fields = {k: _scrub(str(item[k]), secrets) for k in ("code", "message", "details") if item.get(k) is not None}
        errors.append(AmazonError(**fields))
    return errors


def _scrub(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return text


def _status_error(operation: Operation, response: httpx.Response, *, secrets: tuple[str, ...]) -> SpApiError:
    status = response.status_code
    request_id = response.headers.get("x-amzn-requestid")
    log.warning(
        "spapi call failed",
        extra={"operation": operation.key, "status": status, "request_id": request_id},
    )
    return error_for_status(status)(
        operation.key, status=status, errors=_amazon_errors(response, secrets), request_id=request_id
    )


def _transport_error(operation: Operation, exc: httpx.TransportError) -> SpApiError:
    if (
        not operation.idempotent
        and isinstance(exc, httpx.TimeoutException)
        and not isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout)
    ):
        log.warning("spapi write outcome unknown", extra={"operation": operation.key, "error": type(exc).__name__})
        return OutcomeUnknown(operation.key, reason=f"no response ({type(exc).__name__}); Amazon may have applied it")
    return _transport_error_named(operation.key, exc)


def _transport_error_named(operation: str, exc: httpx.TransportError) -> SpApiError:
    log.warning("spapi call failed", extra={"operation": operation, "error": type(exc).__name__})
    return RequestTimeout(operation, reason=f"no response ({type(exc).__name__})")


def _log_retry(
    operation: Operation, status: int | None, retry_number: int, delay: float, request_id: str | None, error: str | None
) -> None:
    log.info(
        "spapi call retrying",
        extra={
            "operation": operation.key,
            "status": status,
            "error": error,
            "retry": retry_number,
            "delay_s": round(delay, 3),
            "request_id": request_id,
        },
    )

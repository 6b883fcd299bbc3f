"""The S3 side of feeds and reports: presigned upload and download URLs served by the sandbox itself.

Like Amazon's, a URL is valid for five minutes, is bound to one method, and an upload must carry the
Content-Type given to createFeedDocument. Compressed documents are served as raw gzip bytes without a
Content-Encoding header: the client must gunzip them because getFeedDocument says compressionAlgorithm=GZIP.
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import secrets
import time

from fastapi import Request, Response

from spapi_sandbox.state import Document, utcnow
from spapi_sandbox.world import World

URL_TTL_SECONDS = 300
_KEY = secrets.token_bytes(32)
_GZIP_MAGIC = b"\x1f\x8b"


def _signature(document_id: str, method: str, expires: int) -> str:
    return hmac.new(_KEY, f"{document_id}:{method}:{expires}".encode(), hashlib.sha256).hexdigest()


def presigned_url(base_url: str, document_id: str, method: str) -> str:
    expires = int(time.time()) + URL_TTL_SECONDS
    return (
        f"{base_url.rstrip('/')}/_sandbox/s3/{document_id}"
        f"?X-Amz-Expires={expires}&X-Amz-Signature={_signature(document_id, method, expires)}"
    )


def new_document(world: World, seller_id: str, content_type: str) -> Document:
    document = Document(
        document_id=world.state.ids.document(),
        seller_id=seller_id,
        content_type=content_type,
        secret=world.state.ids.secret(),
        created=utcnow(),
    )
    world.state.documents[document.document_id] = document
    return document


def store_result(world: World, seller_id: str, content_type: str, data: bytes) -> Document:
    document = new_document(world, seller_id, content_type)
    if world.config.gzip_documents:
        document.data, document.compressed = gzip.compress(data), True
    else:
        document.data = data
    return document


def decompressed(data: bytes) -> bytes:
    """The bytes as the seller meant them: uploads may be gzipped by the client."""
    return gzip.decompress(data) if data[:2] == _GZIP_MAGIC else data


def _s3_error(status: int, code: str, message: str) -> Response:
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>'
    return Response(body, status_code=status, media_type="application/xml")


def _check(request: Request, document_id: str, method: str) -> Response | None:
    try:
        expires = int(request.query_params.get("X-Amz-Expires", ""))
    except ValueError:
        return _s3_error(403, "AccessDenied", "Query-string authentication requires X-Amz-Expires.")
    given = request.query_params.get("X-Amz-Signature", "")
    if not hmac.compare_digest(given, _signature(document_id, method, expires)):
        return _s3_error(403, "SignatureDoesNotMatch", "The request signature we calculated does not match.")
    if expires < time.time():
        return _s3_error(403, "AccessDenied", "Request has expired")
    return None


async def upload(world: World, request: Request, document_id: str) -> Response:
    problem = _check(request, document_id, "PUT")
    if problem is not None:
        return problem
    document = world.state.documents.get(document_id)
    if document is None:
        return _s3_error(404, "NoSuchKey", "The specified key does not exist.")
    if request.headers.get("content-type", "") != document.content_type:
        # The presigned URL is signed for the Content-Type given to createFeedDocument.
        return _s3_error(403, "SignatureDoesNotMatch", "The Content-Type does not match the signed request.")
    document.data = await request.body()
    return Response(status_code=200)


async def download(world: World, request: Request, document_id: str) -> Response:
    problem = _check(request, document_id, "GET")
    if problem is not None:
        return problem
    document = world.state.documents.get(document_id)
    if document is None or document.data is None:
        return _s3_error(404, "NoSuchKey", "The specified key does not exist.")
    return Response(document.data, media_type=document.content_type)

"""Uploads (a CSV of leads, a chat export) read in chunks, with a size cap and deadlines.

The body-timeout middleware (bridge.http.server) reads only the bodies handlers read whole;
an upload streams past it, so it has its own deadlines: each chunk must arrive within
`[http] body_timeout_seconds`, and the whole no slower than MIN_BYTES_PER_SECOND after that
first allowance. Otherwise a client trickling a byte every few seconds would hold a
connection, and a handler, for as long as it liked.
"""

from __future__ import annotations

import asyncio

import structlog
from aiohttp import web

from bridge.http.errors import ApiError

log = structlog.get_logger(__name__)

BODY_TIMEOUT: web.AppKey[float] = web.AppKey("body_timeout", float)  # [http] body_timeout_seconds
MIN_BYTES_PER_SECOND = 8 * 1024  # slower than a 2G phone: 25 MB may take ~50 minutes, a trickle cannot stay
CHUNK_BYTES = 64 * 1024


async def read_upload(request: web.Request, *, limit: int, too_large: ApiError) -> bytes:
    """The request body, at most `limit` bytes (more: `too_large`), within the deadlines
    (missed: 408 `request_timeout`, and the connection is closed)."""
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    seconds = request.app.get(BODY_TIMEOUT, 30.0)
    loop = asyncio.get_running_loop()
    began = loop.time()
    parts: list[bytes] = []
    size = 0
    while True:
        # The next chunk may take `seconds`, and the whole so far may take `seconds` plus its
        # size at the minimum rate: whichever comes first.
        wait = min(seconds, began + seconds + size / MIN_BYTES_PER_SECOND - loop.time())
        try:
            async with asyncio.timeout(max(wait, 0.0)):
                chunk = await request.content.read(CHUNK_BYTES)
        except TimeoutError:
            log.info("http_upload_timeout", method=request.method, path=request.path, received=size)
            raise ApiError(408, "request_timeout",
                           f"the upload stopped arriving after {size:,} bytes: each part must come within "
                           f"{seconds:g} seconds and the whole at {MIN_BYTES_PER_SECOND // 1024} KiB/s or faster",
                           close=True) from None
        if not chunk:
            return b"".join(parts)
        size += len(chunk)
        if size > limit:
            raise too_large
        parts.append(chunk)

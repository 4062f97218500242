"""Serving a stored photo, whichever store holds it: the bytes as an inline JPEG (after the caller's access
check), read off the event loop. A photo the store does not hold answers 404; a store that does not answer, 503."""

from __future__ import annotations

import asyncio

from litestar import Response

from points.infra.photo_store import PhotoStore


async def photo_response(store: PhotoStore, name: str) -> Response[bytes]:
    data = await asyncio.to_thread(store.read, name)
    return Response(content=data, media_type="image/jpeg",
                    headers={"Content-Disposition": "inline", "Cache-Control": "private, max-age=86400"})

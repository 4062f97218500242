"""Photos at the door: the files of a multipart form read as bytes (a part that is not a file — sent without a
file name — is refused naming its field, never a 500; on a page's form, an empty file input is no photo), and a stored photo served, whichever store holds it: the
bytes as an inline JPEG (after the caller's access check), read off the event loop. A photo the store does not
hold answers 404; a store that does not answer, 503."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Response
from litestar.datastructures import UploadFile

from points.errors import Invalid
from points.infra.photo_store import PhotoStore, read_sized


async def read_files(parts: object, field: str) -> list[bytes]:
    """The files sent as `field` (one part or several), each read; 400 naming the field for a part that is not
    a file."""
    listed = [] if parts is None else parts if isinstance(parts, list) else [parts]
    if not all(isinstance(part, UploadFile) for part in listed):
        raise Invalid("not_a_file", f"{field}: each part must be a file (sent with a file name)", field=field)
    return [await part.read() for part in listed]


async def chosen_files(form: Any, field: str) -> list[bytes]:
    """The files a page's form carries in `field`, each read; a file input left empty (a part with no file
    name) is no photo."""
    return [await part.read() for part in form.getall(field, []) if isinstance(part, UploadFile) and part.filename]


async def photo_response(store: PhotoStore, name: str, size: str | None = None) -> Response[bytes]:
    """The photo (after the caller's access check), at `size` when it is shown small (photo_store.SIZES)."""
    data = await asyncio.to_thread(read_sized, store, name, size)
    return Response(content=data, media_type="image/jpeg",
                    headers={"Content-Disposition": "inline", "Cache-Control": "private, max-age=86400"})

"""Where photo files live: the local disk (the default, under JIFEN_DATA_DIR/photos) or S3-compatible object
storage (JIFEN_PHOTO_STORE=s3://bucket/prefix: MinIO, Ceph, a cloud's S3), for several app hosts.

Both keep a photo under a random name in a folder of the UTC day it arrived ("2026/11/30/<hex>.jpg"), outside
any static route: photos are served through the app, behind its access checks. What they guarantee:
`save` returns once the bytes are stored (the report that names them commits after); `read` of a name
the store does not hold raises PhotoMissing; a store that does not answer raises Unavailable within
seconds (the request answers 503), never hangs.
"""

from __future__ import annotations

import asyncio
import io
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol, runtime_checkable

from points.errors import NotFound
from points.infra.config import Settings
from points.infra.db import Unavailable
from points.infra.photos import DAY_FOLDER, CleanPhoto


class PhotoMissing(NotFound):
    """The store holds no photo of that name (a request for it answers 404)."""

    def __init__(self, name: str):
        super().__init__("photo")
        self.name = name


def new_name() -> str:
    """A fresh photo's name: its UTC day's folder and a random file name (by the system clock, as the
    files' own times are)."""
    return f"{datetime.now(UTC).strftime(DAY_FOLDER)}/{uuid.uuid4().hex}.jpg"


def recent_days(days: int) -> list[str]:
    today = datetime.now(UTC)
    return [(today - timedelta(days=back)).strftime(DAY_FOLDER) for back in range(days)]


@runtime_checkable
class PhotoStore(Protocol):
    kind: str  # local | s3

    def save(self, photo: CleanPhoto) -> str: ...

    def put(self, name: str, data: bytes) -> None: ...

    def read(self, name: str) -> bytes: ...

    def exists(self, name: str) -> bool: ...

    def discard(self, names: list[str]) -> None: ...

    def recent_files(self, older_than: float, days: int = 3) -> list[str]:
        """Names in the last `days` day folders stored before `older_than` (a POSIX time): where a photo
        whose report never committed (a killed process) is left behind."""
        ...


class LocalPhotoStore:
    """Photos on this host's disk."""

    kind = "local"

    def __init__(self, root: Path):
        self.root = root

    def save(self, photo: CleanPhoto) -> str:
        name = new_name()
        self.put(name, photo.jpeg)
        return name

    def put(self, name: str, data: bytes) -> None:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.rename(path)  # a reader sees the whole file or none

    def read(self, name: str) -> bytes:
        try:
            return (self.root / name).read_bytes()
        except FileNotFoundError:
            raise PhotoMissing(name) from None

    def exists(self, name: str) -> bool:
        return (self.root / name).is_file()

    def discard(self, names: list[str]) -> None:
        for name in names:
            (self.root / name).unlink(missing_ok=True)

    def recent_files(self, older_than: float, days: int = 3) -> list[str]:
        names = []
        for day in recent_days(days):
            folder = self.root / day
            if folder.is_dir():
                names += [str(f.relative_to(self.root)) for f in folder.iterdir()
                          if f.suffix in (".jpg", ".part") and f.stat().st_mtime < older_than]
        return sorted(names)


class S3PhotoStore:
    """Photos as objects in one bucket under one prefix, through boto3 with short timeouts."""

    kind = "s3"

    def __init__(self, url: str, endpoint: str | None, region: str | None):
        import boto3
        from botocore.config import Config

        self.bucket, _, prefix = url.removeprefix("s3://").partition("/")
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.client = boto3.client("s3", endpoint_url=endpoint, region_name=region or "us-east-1", config=Config(
            connect_timeout=2, read_timeout=10, retries={"max_attempts": 2, "mode": "standard"}))

    def _call(self, method: str, **kwargs):
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, method)(Bucket=self.bucket, **kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                raise PhotoMissing(kwargs.get("Key", "")) from None
            if int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500)) >= 500:
                raise Unavailable("photo storage") from exc
            raise
        except BotoCoreError as exc:  # cannot connect, timed out, …
            raise Unavailable("photo storage") from exc

    def save(self, photo: CleanPhoto) -> str:
        name = new_name()
        self.put(name, photo.jpeg)
        return name

    def put(self, name: str, data: bytes) -> None:
        self._call("put_object", Key=self.prefix + name, Body=data, ContentType="image/jpeg")

    def read(self, name: str) -> bytes:
        return self._call("get_object", Key=self.prefix + name)["Body"].read()

    def exists(self, name: str) -> bool:
        try:
            self._call("head_object", Key=self.prefix + name)
        except PhotoMissing:
            return False
        return True

    def discard(self, names: list[str]) -> None:
        for start in range(0, len(names), 1000):  # DeleteObjects takes up to 1,000 keys
            chunk = names[start:start + 1000]
            if chunk:
                self._call("delete_objects", Delete={"Objects": [{"Key": self.prefix + n} for n in chunk],
                                                     "Quiet": True})

    def recent_files(self, older_than: float, days: int = 3) -> list[str]:
        names = []
        for day in recent_days(days):
            token: dict[str, str] = {}
            while True:
                page = self._call("list_objects_v2", Prefix=f"{self.prefix}{day}/", **token)
                names += [o["Key"].removeprefix(self.prefix) for o in page.get("Contents", [])
                          if o["LastModified"].timestamp() < older_than]
                if not page.get("IsTruncated"):
                    break
                token = {"ContinuationToken": page["NextContinuationToken"]}
        return sorted(names)


def photo_store(config: Settings) -> PhotoStore:
    """The store the configuration names."""
    if config.photo_store.startswith("s3://"):
        return S3PhotoStore(config.photo_store, config.s3_endpoint, config.s3_region)
    config.photo_dir.mkdir(parents=True, exist_ok=True)
    return LocalPhotoStore(config.photo_dir)


async def save_all(store: PhotoStore, photos: list[CleanPhoto]) -> list[str]:
    """Store the photos off the event loop (object storage is a network call); if one fails, none stays."""
    names: list[str] = []
    try:
        for photo in photos:
            names.append(await asyncio.to_thread(store.save, photo))
    except BaseException:
        await discard(store, names)
        raise
    return names


async def discard(store: PhotoStore, names: list[str]) -> None:
    """Delete the photos and the sized copies made of them."""
    if names:
        await asyncio.to_thread(store.discard, [*names, *(rendition_name(n, size) for n in names for size in SIZES)])


# ------------------------------------------------------------------ sized copies

# A photo shown small is served small: each size made once, the first time it is asked for, and kept in the
# same store beside the original ("<name>.thumb.jpg"), behind the same access checks (served by the same
# routes). The original stays for staff who open it.
SIZES = {"thumb": 320, "screen": 1280}  # the longest side, in pixels
SIZED_QUALITY = 75


def rendition_name(name: str, size: str) -> str:
    return f"{name.removesuffix('.jpg')}.{size}.jpg"


def original_name(name: str) -> str:
    """The photo a stored file is a sized copy of (itself, for an original)."""
    for size in SIZES:
        if name.endswith(f".{size}.jpg"):
            return name.removesuffix(f".{size}.jpg") + ".jpg"
    return name


def read_sized(store: PhotoStore, name: str, size: str | None) -> bytes:
    """The photo at `size` (None: as stored), making and keeping the copy the first time. Blocking: call it
    off the event loop."""
    if size is None:
        return store.read(name)
    sized = rendition_name(name, size)
    try:
        return store.read(sized)
    except PhotoMissing:
        pass
    from PIL import Image  # only where a copy is made

    picture = Image.open(io.BytesIO(store.read(name)))
    picture.thumbnail((SIZES[size], SIZES[size]))
    out = io.BytesIO()
    picture.convert("RGB").save(out, "JPEG", quality=SIZED_QUALITY, optimize=True)
    store.put(sized, out.getvalue())
    return out.getvalue()

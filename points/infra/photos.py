"""Photo intake: check an upload, read what its EXIF says, re-encode it clean.

Order matters: the type is decided by magic bytes (never by name or header),
the byte and pixel limits are checked before any pixel is decoded, EXIF
capture time and GPS are read before the image is re-encoded, and the stored
file is a fresh JPEG with no EXIF at all (which also destroys polyglots).
Each photo also gets a difference hash (dHash, 64 bits): the same picture sent
again — re-saved, resized, recompressed — hashes within a few bits of the first.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from PIL import Image

from points.errors import TooLarge, Unprocessable, UnsupportedMedia

FORMATS = {"JPEG": b"\xff\xd8\xff", "PNG": b"\x89PNG\r\n\x1a\n"}
MAX_SIDE = 2560  # longest side kept; a phone photo needs no more to be judged
EXIF_IFD, GPS_IFD = 0x8769, 0x8825
DATETIME_ORIGINAL, DATETIME = 0x9003, 0x0132
DAY_FOLDER = "%Y/%m/%d"  # photos are stored by the UTC day they arrived
ORIENTATION = 0x0112
TURNS = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
         5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
         8: Image.Transpose.ROTATE_90}  # what the EXIF orientation asks for, as ImageOps.exif_transpose does it
DECODE_THREADS = 2  # photos decoded at once per process: with MAX_SIDE, each needs well under 100 MB


_decode_pool = ThreadPoolExecutor(DECODE_THREADS, thread_name_prefix="jifen-photo")


async def clean_off_loop(data: bytes, field: str, max_bytes: int, max_pixels: int) -> CleanPhoto:
    """`clean()` in the process's photo pool: off the event loop, and never more than DECODE_THREADS at once."""
    return await asyncio.get_running_loop().run_in_executor(_decode_pool, clean, data, field, max_bytes, max_pixels)


@dataclass(frozen=True)
class CleanPhoto:
    jpeg: bytes
    sha256: str  # of the bytes as uploaded
    width: int
    height: int
    taken_at: datetime | None
    lat: float | None
    lng: float | None
    dhash: str  # 16 hex digits


def dhash(image: Image.Image) -> str:
    """Whether each pixel of a 9×8 grey thumbnail is brighter than its right-hand neighbour: 64 bits."""
    pixels = image.convert("L").resize((9, 8), Image.Resampling.LANCZOS).tobytes()
    bits = 0
    for row in range(8):
        for col in range(8):
            bits = bits << 1 | (pixels[row * 9 + col] > pixels[row * 9 + col + 1])
    return f"{bits:016x}"


def distance(a: str, b: str) -> int:
    """How many of the 64 bits two hashes differ in."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


def sniff(data: bytes) -> str | None:
    for name, magic in FORMATS.items():
        if data.startswith(magic):
            return name
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def clean(data: bytes, field: str, max_bytes: int, max_pixels: int) -> CleanPhoto:
    if len(data) > max_bytes:
        raise TooLarge("photo_too_large", f"{field}: {len(data)} bytes is more than the limit of {max_bytes}",
                       field=field)
    fmt = sniff(data)
    if fmt is None:
        raise UnsupportedMedia("photo_type", f"{field}: not a JPEG, PNG or WebP image", field=field)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[fmt])
            width, height = image.size
            if width * height > max_pixels:
                raise TooLarge("photo_too_many_pixels",
                               f"{field}: {width}×{height} pixels is more than the limit of {max_pixels}",
                               field=field)
            taken_at, lat, lng = _exif_facts(image)
            orientation = image.getexif().get(ORIENTATION, 1)
            # A JPEG decodes straight at 1/2, 1/4 or 1/8 size when that still covers MAX_SIDE, and the picture
            # is shrunk before it is turned: a 40-megapixel photo never exists at full size in memory.
            image.draft(image.mode, (MAX_SIDE, MAX_SIDE))
            image.thumbnail((MAX_SIDE, MAX_SIDE))
            if transpose := TURNS.get(orientation):
                image = image.transpose(transpose)
            if image.mode not in ("RGB", "L"):
                image = image.convert("RGB")
            out = io.BytesIO()
            image.save(out, format="JPEG", quality=85, optimize=True)
    except (TooLarge, UnsupportedMedia):
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise Unprocessable("photo_unreadable", f"{field}: the image cannot be read ({type(exc).__name__})",
                            field=field) from None
    return CleanPhoto(jpeg=out.getvalue(), sha256=hashlib.sha256(data).hexdigest(), width=image.width,
                      height=image.height, taken_at=taken_at, lat=lat, lng=lng, dhash=dhash(image))


def _exif_facts(image: Image.Image) -> tuple[datetime | None, float | None, float | None]:
    try:
        exif = image.getexif()
    except Exception:  # a broken EXIF block must not sink a good photo
        return None, None, None
    taken = exif.get_ifd(EXIF_IFD).get(DATETIME_ORIGINAL) or exif.get(DATETIME)
    taken_at = None
    if isinstance(taken, str):
        try:
            taken_at = datetime.strptime(taken.strip("\x00 "), "%Y:%m:%d %H:%M:%S")
        except ValueError:
            taken_at = None
    gps = exif.get_ifd(GPS_IFD)
    lat = _degrees(gps.get(2), gps.get(1), "S")
    lng = _degrees(gps.get(4), gps.get(3), "W")
    return taken_at, lat, lng


def _degrees(dms, ref, negative: str) -> float | None:
    try:
        d, m, s = (float(x) for x in dms)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    value = d + m / 60 + s / 3600
    return -value if ref == negative else value

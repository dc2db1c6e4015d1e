"""Decoding that survives real photos: EXIF rotation, CMYK, 16-bit, palette, animations, bombs.

Every failure becomes an ``ImageError`` whose ``reason`` is a short phrase a person understands;
nothing here lets a Pillow exception or warning escape. Pillow only, no TensorFlow: the GUI scans
and shows images before TensorFlow has loaded.

Each call opens its own file and its own ``Image`` object, so the functions are safe to call from
thread pools and from ``tf.data``'s ``py_function`` at the same time (Pillow releases the GIL
while decoding). Plain 8-bit RGB(A) PNGs are decoded by libspng when imagecodecs is installed
(it is a dependency; without it, Pillow decodes them).
"""

from __future__ import annotations

import errno
import io
import logging
import os
import re
import stat
import warnings
from pathlib import Path
from typing import BinaryIO, Callable

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from horsehuman_gui.core.errors import ImageError

logger = logging.getLogger(__name__)

#: File suffixes (lowercase) treated as images when walking folders.
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})

#: Images whose header claims more pixels than this are refused before decoding.
MAX_PIXELS = 150_000_000

#: The size verify_image decodes JPEGs at (draft mode): enough to exercise every byte.
_VERIFY_SIZE = (64, 64)

# Our own header check refuses bombs with a clear reason. Pillow warns from inside Image.open for
# images above its own limit (default ~89 MP) and raises above twice that. Its limit is aligned
# with ours so an image we accept (a real panorama) never warns; the warning Pillow still gives
# for a bomb we are about to refuse is filtered once, for this one category, because
# warnings.catch_warnings around each open would not be thread-safe.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)

# EXIF orientations 5-8 rotate by 90 degrees: the stored width and height are swapped on screen.
_SWAPPING_ORIENTATIONS = {5, 6, 7, 8}
_EXIF_ORIENTATION = 0x0112
_SIXTEEN_BIT_MODES = {"I;16", "I;16L", "I;16B", "I;16N"}
#: modes whose conversion to RGB cannot fail (verify_image skips converting these)
_SAFE_MODES = {"RGB", "RGBA", "L", "LA", "P", "1", "CMYK", "YCbCr"}


def _too_large(pixels: int) -> ImageError:
    return ImageError(f"too large: {pixels / 1e6:.0f} megapixels (limit {MAX_PIXELS // 1_000_000});"
                      " refused as a possible decompression bomb")


def _os_error_reason(exc: OSError, path: Path) -> str:
    if isinstance(exc, PermissionError):
        return "cannot read: permission denied"
    if isinstance(exc, FileNotFoundError):
        return "broken link" if os.path.islink(path) else "file not found"
    if isinstance(exc, IsADirectoryError):
        return "is a folder, not a file"
    if exc.errno == errno.ELOOP:
        return "link loop"
    return f"cannot read: {exc.strerror or exc}"


def _decode_failure(exc: Exception) -> ImageError:
    """Map an exception raised while Pillow parses or decodes to a short reason."""
    if isinstance(exc, ImageError):
        return exc
    if isinstance(exc, Image.DecompressionBombError):
        found = re.search(r"\((\d+) pixels\)", str(exc))
        return _too_large(int(found.group(1))) if found else ImageError(
            "too large; refused as a possible decompression bomb")
    if isinstance(exc, UnidentifiedImageError):
        return ImageError("not an image (unrecognised content)")
    if isinstance(exc, MemoryError):
        return ImageError("too large to decode (out of memory)")
    message = str(exc)
    if "decoder" in message and "not available" in message:
        return ImageError("unsupported format")
    logger.debug("decode failed: %r", exc)
    return ImageError("corrupt or truncated image")


def _draft_size(img: Image.Image, size: tuple[int, int]) -> tuple[int, int]:
    """The draft size in stored orientation: EXIF rotation by 90 degrees swaps the axes."""
    try:
        orientation = img.getexif().get(_EXIF_ORIENTATION)
    except Exception:  # a broken EXIF block must not make the image unusable
        orientation = None
    return (size[1], size[0]) if orientation in _SWAPPING_ORIENTATIONS else size


def _to_rgb(img: Image.Image) -> Image.Image:
    """Convert any decoded mode to RGB; transparency is composited on white.

    Composited rather than dropped: the colour stored under fully transparent pixels is arbitrary
    (often black), while the person sees such images on a light background.
    """
    if img.mode == "RGB":
        return img
    if img.mode in _SIXTEEN_BIT_MODES or img.mode in ("I", "F"):
        return Image.fromarray(_scale_to_8bit(img)).convert("RGB")
    if (img.mode == "P" and "transparency" in img.info) or img.mode == "PA":
        img = img.convert("RGBA")
    if img.mode == "LA":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "RGBa"):
        return _composite_on_white(img.convert("RGBA"))
    try:
        return img.convert("RGB")
    except (ValueError, OSError) as exc:
        raise ImageError(f"unsupported format (colour mode {img.mode})") from exc


def _composite_on_white(img: Image.Image) -> Image.Image:
    alpha = img.getchannel("A")
    if alpha.getextrema()[0] == 255:  # fully opaque: dropping alpha is exact and cheaper
        return img.convert("RGB")
    background = Image.new("RGB", img.size, (255, 255, 255))
    background.paste(img, mask=alpha)
    return background


def _scale_to_8bit(img: Image.Image) -> np.ndarray:
    """16-bit and 32-bit grey to uint8 by bit depth (a dark image stays dark, never clipped)."""
    values = np.asarray(img).astype(np.float64)
    if img.mode in _SIXTEEN_BIT_MODES:
        scale = 255.0 / 65535.0
    else:  # "I" (int32, usually 16-bit data) and "F": infer the range from the values
        top = float(values.max(initial=0.0))
        scale = 255.0 if top <= 1.0 and img.mode == "F" else (
            1.0 if top <= 255 else 255.0 / 65535.0)
    return np.clip(np.rint(values * scale), 0, 255).astype(np.uint8)


def _decode(img: Image.Image, size: tuple[int, int] | None) -> Image.Image:
    """Check the header's pixel count, then decode (JPEG at reduced scale when ``size``)."""
    width, height = img.size
    if width * height > MAX_PIXELS:
        raise _too_large(width * height)
    if size is not None and img.format == "JPEG":
        img.draft("RGB", _draft_size(img, size))
    img.load()  # animated GIF/WebP: the first frame is the current one after open
    return img


def _upright_rgb(img: Image.Image) -> Image.Image:
    try:
        ImageOps.exif_transpose(img, in_place=True)
    except Exception as exc:  # broken EXIF: keep the pixels as stored rather than refuse them
        logger.debug("EXIF orientation ignored: %r", exc)
    return _to_rgb(img)


def _checked(img: Image.Image) -> Image.Image:
    """For verify_image: conversion is only tried for modes that could fail to convert."""
    return img if img.mode in _SAFE_MODES else _to_rgb(img)


def _open_regular_file(path: Path) -> BinaryIO:
    """Open ``path`` for reading without ever blocking: a FIFO (or a device) put where an image
    was would block ``open()`` for good, in a thread nothing can interrupt. Non-blocking open
    returns at once; the type is then checked on the descriptor itself (no race with a swap)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) \
        | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise ImageError(_os_error_reason(exc, path)) from exc
    try:
        reason = _unusable_file(os.fstat(fd))
        if reason is not None:
            raise ImageError(reason)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def stat_or_reason(path: str | Path) -> os.stat_result | str:
    """``os.stat(path)``, or why no picture can be read there (the reasons decoding gives),
    without opening the file."""
    try:
        found = os.stat(path)
    except OSError as exc:
        return _os_error_reason(exc, Path(path))
    reason = _unusable_file(found)
    return found if reason is None else reason


def _unusable_file(found: os.stat_result) -> str | None:
    if stat.S_ISDIR(found.st_mode):
        return "is a folder, not a file"
    if not stat.S_ISREG(found.st_mode):
        return "not a regular file"
    if found.st_size == 0:
        return "empty file (0 bytes)"
    return None


def _open(path: str | Path, size: tuple[int, int] | None,
          finish: Callable[[Image.Image], Image.Image], digest=None) -> Image.Image:
    """Open, decode and ``finish`` inside the file's lifetime; every failure -> ImageError.
    ``digest`` (a ``hashlib`` object) is given every byte of the file."""
    path = Path(path)
    with _open_regular_file(path) as handle:
        if digest is not None:
            handle = _digested(handle, digest, path)
        try:
            with Image.open(_lean_jpeg(handle)) as img:
                fast = _fast_png(img, handle)
                return finish(fast if fast is not None else _decode(img, size))
        except Exception as exc:
            raise _decode_failure(exc) from exc


#: Files up to this size are read into memory once, for their digest and their decoding.
_READ_WHOLE_BYTES = 64 * 2**20


def _digested(handle: BinaryIO, digest, path: Path) -> BinaryIO:
    """``handle``'s bytes given to ``digest``; what to decode from: the bytes read (one read
    for both), or for a very large file ``handle`` again, from its start."""
    try:
        if os.fstat(handle.fileno()).st_size <= _READ_WHOLE_BYTES:
            data = handle.read()
            digest.update(data)
            return io.BytesIO(data)
        for block in iter(lambda: handle.read(2**20), b""):
            digest.update(block)
        handle.seek(0)
        return handle
    except OSError as exc:
        raise ImageError(_os_error_reason(exc, path)) from exc


#: libspng through imagecodecs (optional, see ``_spng``): ~30% less CPU than Pillow for a PNG
#: (300x300 RGBA: 2.3 vs 3.3 ms), with the GIL released as Pillow's decoders do.
_spng_decode: Callable | None | bool = False  # False: not looked up yet


def _spng() -> Callable | None:
    global _spng_decode
    if _spng_decode is False:
        try:
            import imagecodecs

            _spng_decode = imagecodecs.spng_decode if imagecodecs.SPNG.available else None
        except Exception as exc:  # not installed, or a build without it: Pillow decodes
            logger.debug("PNGs decoded by Pillow (imagecodecs' SPNG: %r)", exc)
            _spng_decode = None
    return _spng_decode


def _fast_png(img: Image.Image, handle: BinaryIO) -> Image.Image | None:
    """An 8-bit RGB or RGBA PNG without EXIF or a transparent colour, decoded by libspng; None
    for every other image, and whenever libspng does not give exactly what the header says
    (Pillow then decodes, and has the last word on damaged files)."""
    if img.format != "PNG" or img.mode not in ("RGB", "RGBA") or "transparency" in img.info \
            or "exif" in img.info:
        return None
    decode = _spng()  # imagecodecs is imported for the first such PNG only
    if decode is None:
        return None
    width, height = img.size
    if width * height > MAX_PIXELS:
        raise _too_large(width * height)
    handle.seek(0)
    data = handle.read()
    try:
        pixels = decode(data)
    except Exception as exc:  # damaged: Pillow's own decoding gives the reason
        logger.debug("libspng could not decode (%r); Pillow tries", exc)
        return None
    finally:
        handle.seek(0)
    if pixels.dtype != np.uint8 or pixels.shape != (height, width, len(img.mode)):
        return None
    return Image.fromarray(pixels, img.mode)


#: JPEG metadata (EXIF, XMP, ICC, comments...) beyond this is not handed to Pillow: it joins
#: repeated EXIF segments by copying, so a crafted 50 MB block took ~10 s and ~230 MB per
#: decode. Real photos carry well under 1 MB.
MAX_JPEG_METADATA = 2**20
_MAX_JPEG_SEGMENTS = 10_000
_STANDALONE = {0x01, *range(0xD0, 0xD8)}


def _jpeg_segments(handle: BinaryIO) -> tuple[list[tuple[int, int, bytes]], int] | None:
    """A JPEG's header segments as (offset, total length, first bytes) and where its scan
    starts; None when the file is not a JPEG or its header cannot be walked (Pillow judges)."""
    if handle.read(2) != b"\xff\xd8":
        return None
    segments = []
    while len(segments) < _MAX_JPEG_SEGMENTS:
        start = handle.tell()
        head = handle.read(2)
        while head[:1] == b"\xff" and head[1:] == b"\xff":  # fill bytes
            start, head = start + 1, b"\xff" + handle.read(1)
        if len(head) < 2 or head[0] != 0xFF:
            return None
        if head[1] in _STANDALONE:
            segments.append((start, 2, head))
            continue
        if head[1] == 0xDA:  # start of scan: image data follows
            return segments, start
        length = handle.read(2)
        if len(length) < 2 or int.from_bytes(length, "big") < 2:
            return None
        size = int.from_bytes(length, "big")
        segments.append((start, size + 2, head + length + handle.read(min(size - 2, 14))))
        handle.seek(start + size + 2)
    raise ImageError("unusual JPEG (too many header segments)")


def _lean_jpeg(handle: BinaryIO) -> BinaryIO:
    """``handle``, or for a JPEG with huge metadata an in-memory copy keeping only what
    decoding needs: the tables, JFIF, the first EXIF segment (orientation), Adobe's colour
    transform; the rest (more EXIF, XMP, ICC, comments) is dropped unread."""
    try:
        found = _jpeg_segments(handle)
    finally:
        handle.seek(0)
    if found is None:
        return handle
    segments, scan = found
    metadata = [s for s in segments if _is_metadata(s[2])]
    if sum(length for _, length, _ in metadata) <= MAX_JPEG_METADATA:
        return handle
    kept, seen = [b"\xff\xd8"], set()
    for offset, length, head in segments:
        kind = _metadata_kind(head)
        if kind is not None:
            if kind in seen or kind not in _KEPT_METADATA:
                continue
            seen.add(kind)
        handle.seek(offset)
        kept.append(handle.read(length))
    handle.seek(scan)
    kept.append(handle.read())
    handle.seek(0)
    logger.debug("JPEG metadata of %d bytes left out", sum(l for _, l, _ in metadata))
    return io.BytesIO(b"".join(kept))


_KEPT_METADATA = {"jfif", "exif", "adobe"}


def _is_metadata(head: bytes) -> bool:
    return 0xE0 <= head[1] <= 0xEF or head[1] == 0xFE


def _metadata_kind(head: bytes) -> str | None:
    """None for segments decoding needs (tables, frame...); else a name for the metadata."""
    if not _is_metadata(head):
        return None
    payload = head[4:]
    if head[1] == 0xE0 and payload.startswith(b"JFIF"):
        return "jfif"
    if head[1] == 0xE1 and payload.startswith(b"Exif\0\0"):
        return "exif"
    if head[1] == 0xEE and payload.startswith(b"Adobe"):
        return "adobe"
    return "other"


def open_rgb(path: str | Path, size: tuple[int, int] | None = None, digest=None) -> Image.Image:
    """Open ``path`` as an upright RGB ``Image``; raise ``ImageError(reason)`` if unusable.

    ``size`` is (width, height), a hint only: JPEGs then decode at reduced scale (draft mode)
    to the smallest scale that is still at least ``size``; the result is not resized.
    ``digest`` (a ``hashlib`` object) is given the file's bytes as they are read.
    """
    return _open(path, size, _upright_rgb, digest)


def _pair(size: int | tuple[int, int]) -> tuple[int, int]:
    if isinstance(size, int):
        size = (size, size)
    if not isinstance(size, (tuple, list)) or len(size) != 2 \
            or not all(isinstance(s, int) and s > 0 for s in size):
        raise ValueError(f"`size` must be a positive int or (width, height). Received: {size!r}")
    return tuple(size)


def load_array(path: str | Path, size: int | tuple[int, int] | None = None,
               digest=None) -> np.ndarray:
    """Decode ``path`` to a uint8 array (H, W, 3); raise ``ImageError(reason)`` if unusable.

    ``size`` (an int for a square, or (width, height)) resizes exactly to that, bilinear,
    ignoring aspect ratio as Keras's ``image_dataset_from_directory`` does. Thread-safe.
    ``digest``: as ``open_rgb``'s.
    """
    target = None if size is None else _pair(size)
    img = open_rgb(path, target, digest)
    if target is not None and img.size != target:
        img = img.resize(target, Image.Resampling.BILINEAR, reducing_gap=3.0)
    return np.asarray(img, dtype=np.uint8)


def array_or_reason(path: str | Path, size: int | tuple[int, int] | None = None,
                    digest=None) -> np.ndarray | str:
    """``load_array``'s pixels, or the reason ``path`` cannot be used; never raises, since one
    bad file in a folder is normal (an unexpected decoder failure is logged with its trace)."""
    try:
        return load_array(path, size, digest)
    except ImageError as exc:
        return exc.reason
    except Exception as exc:  # an unexpected decoder failure must not end the whole run
        logger.exception("Unexpected error decoding %s", path)
        return f"cannot read: {exc}"


def verify_image(path: str | Path) -> str | None:
    """Return why ``path`` is unusable (a short reason), or None when it decodes fully.

    Every byte is decoded (JPEGs at reduced scale, which still reads all data), so truncated
    files are caught, not just broken headers.
    """
    try:
        _open(path, _VERIFY_SIZE, _checked)
    except ImageError as exc:
        return exc.reason
    return None

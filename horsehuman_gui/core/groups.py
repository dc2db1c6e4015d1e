"""Group near-duplicate pictures so a validation part never holds a copy of a training picture.

Signals, each a link between two files (union-find joins the links into groups):

* ``"same bytes"``: identical files (SHA-1 of the bytes);
* ``"same pixels"``: identical decoded pixels, e.g. one picture saved as PNG and as BMP (SHA-1 of
  the decode; JPEGs are compared at the reduced scale the scan decodes them at);
* ``"similar picture"``: 64-bit difference hashes (dHash of a 9x8 grey thumbnail) at most
  ``HASH_DISTANCE`` bits apart, confirmed by a correlation of at least ``THUMB_CORRELATION``
  between 16x16 grey thumbnails: the same scene re-encoded, resized, slightly shifted or
  brightened. Candidates come from multi-index hashing (``HASH_DISTANCE + 1`` bands: two hashes
  that close agree exactly on at least one band), never from comparing every pair. The hash alone
  is too coarse for low-detail photos (a hand on a green screen: different frames 1-5 bits
  apart, chaining 99 of 300 rock-paper-scissors photos into one group); flat pictures never
  link (their thumbnail has nothing to correlate). Crops of more than a few percent are missed;
* ``"name series"``: the same folder and the same name before a trailing index, where that name
  itself carries a short number (``horse05-3.png`` and ``horse05-7.png``: renders of figure 05;
  ``horse06-1.png`` is another series); a series holding most of a big folder is a naming
  scheme and links nothing;
* ``"burst"``: camera counters (``IMG_0412`` .. ``IMG_0419``: a name without its own number) a few
  numbers apart in the same folder, linked only when also taken within ``BURST_SECONDS`` (EXIF
  DateTimeOriginal) or their hashes are within ``BURST_HASH_DISTANCE`` bits: a counter alone says
  nothing (``cat.1.jpg`` and ``cat.2.jpg`` are unrelated photos);
* ``"features"`` (only when a features matrix is given, e.g. a pretrained network's pooled
  outputs): mutual k-nearest neighbours above a cosine threshold.

``group_images`` uses every signal but features by default: the scan runs before TensorFlow has
loaded. ``describe_header`` checks a file without decoding its pixels (for folders too big to
decode during a scan): its ``ImageInfo`` has no hashes, so only ``NAME_SIGNALS`` apply to it.
No TensorFlow here; Pillow and numpy only.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from PIL import Image

from horsehuman_gui.core import images
from horsehuman_gui.core.errors import ImageError
from horsehuman_gui.core.files import split_suffix
from horsehuman_gui.core.images import open_rgb

logger = logging.getLogger(__name__)

SAME_BYTES, SAME_PIXELS, SIMILAR = "same bytes", "same pixels", "similar picture"
NAME_SERIES, BURST, FEATURES = "name series", "burst", "features"
#: signals that mean "the same picture" (reported by the data health check), not just "related"
DUPLICATE_SIGNALS = frozenset({SAME_BYTES, SAME_PIXELS, SIMILAR, FEATURES})
DEFAULT_SIGNALS = (SAME_BYTES, SAME_PIXELS, SIMILAR, NAME_SERIES, BURST)
#: the signals that need no decoded pixels (burst then links by capture time only)
NAME_SIGNALS = (NAME_SERIES, BURST)

HASH_DISTANCE = 8  # of 64 bits; re-encoded, resized, slightly shifted copies measure 0-3
BURST_HASH_DISTANCE = 16
BURST_GAP = 5  # counter numbers
#: a name series holding more than this share of a folder of at least SCHEME_MIN files is a
#: naming scheme (``set1_0001`` .. ``set1_0999``), not renders of one subject: not a link
SCHEME_SHARE, SCHEME_MIN = 0.5, 20
BURST_SECONDS = 10.0
THUMB_CORRELATION = 0.95  # re-encoded, resized, shifted copies: > 0.98; other frames: 0.3-0.95
_THUMB = (16, 16)
_THUMB_ZERO = bytes(_THUMB[0] * _THUMB[1])
_DECODE_SIZE = (64, 64)  # JPEG draft scale, as the scan's verification decodes them
_SERIES_ID = re.compile(r"(?<!\d)\d{1,4}$")  # "horse05": an id of at most 4 digits
_INDEXED = re.compile(r"^(.*?)(\d+)$")
_ASCII_DIGITS = "0123456789"
_BLOCK = 2048  # rows per block in the pairwise computations: ~32 MB of float64 at most


@dataclass(frozen=True, slots=True)  # slots: a scan holds one per image (100,000s)
class ImageInfo:
    """What one decode tells about a usable image (see ``describe_image``); from
    ``describe_header``, the size as stored and the capture time only (empty hashes:
    ``hashed`` is False)."""

    path: Path
    #: upright size as decoded: exact, except JPEGs over 128 pixels a side, which decode at 1/2
    #: to 1/8 scale (still at least 64 a side, aspect ratio kept)
    width: int
    height: int
    digest: str  # SHA-1 of the file's bytes
    pixels: str  # SHA-1 of the decoded pixels
    dhash: int  # 64-bit difference hash
    thumb: bytes  # 16x16 grey thumbnail, row-major
    taken: float | None = None  # EXIF DateTimeOriginal, seconds (naive local time)

    @property
    def hashed(self) -> bool:
        """Whether the pixels were decoded (hashes and thumbnail are meaningful)."""
        return bool(self.thumb)


@dataclass(frozen=True, slots=True)  # one per image or link: 100,000s
class Link:
    """Two files (indices into the list given) that belong together, and why."""

    a: int
    b: int
    signal: str


@dataclass(frozen=True, slots=True)  # one per image or link: 100,000s
class FileGroup:
    """One file's group: files with the same ``group`` must stay in one part of a split.

    ``signals`` says what linked this file to others (empty: a group of its own).
    """

    path: Path
    group: int
    signals: tuple[str, ...] = ()


def _taken(img: Image.Image) -> float | None:
    """EXIF DateTimeOriginal (else DateTime) of a decoded image, from the EXIF block it kept."""
    try:
        exif = Image.Exif()
        exif.load(img.info["exif"])
        text = exif.get_ifd(0x8769).get(0x9003) or exif.get(0x0132)
        return datetime.strptime(str(text).strip("\0 "), "%Y:%m:%d %H:%M:%S").timestamp()
    except Exception:  # absent or malformed: no capture time, never a failure
        return None


def _small(grey: Image.Image, size: tuple[int, int]) -> Image.Image:
    return grey.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)


def dhash(img: Image.Image) -> int:
    """64-bit difference hash: is each of a 9x8 grey thumbnail's pixels brighter than its left?"""
    small = _small(img.convert("L"), (9, 8))
    grey = np.asarray(small, dtype=np.int16)
    bits = (grey[:, 1:] > grey[:, :-1]).ravel()
    return int.from_bytes(np.packbits(bits).tobytes(), "big")


def describe_image(path: str | Path) -> ImageInfo | str:
    """Decode ``path`` once: its ``ImageInfo``, or the reason it is unusable (never raises).

    The decode is ``images.open_rgb`` (JPEGs at reduced scale): it checks every byte as
    ``verify_image`` does and fails with the same reasons, so a scan needs one decode per file.
    """
    path = Path(path)
    try:
        img = open_rgb(path, _DECODE_SIZE)
    except ImageError as exc:
        return exc.reason
    try:
        digest = hashlib.sha1(path.read_bytes()).hexdigest()
    except OSError as exc:  # gone or changed since it decoded: unusable now
        logger.debug("reading %s: %r", path, exc)
        return "cannot read: changed while it was being read"
    pixels = hashlib.sha1(f"{img.size}".encode() + img.tobytes()).hexdigest()
    grey = img.convert("L")
    return ImageInfo(path, *img.size, digest, pixels, dhash(grey), _small(grey, _THUMB).tobytes(),
                     _taken(img))


#: what each format's files end with when complete (a cheap test for truncation)
_ENDINGS = {"PNG": b"\x00\x00\x00\x00IEND\xaeB`\x82", "JPEG": b"\xff\xd9", "GIF": b";"}
#: header-checked modes: those whose decode and conversion to RGB cannot fail on their own
_PLAIN_MODES = frozenset({"RGB", "RGBA", "L", "LA", "P", "1", "CMYK", "YCbCr"})


def describe_header(path: str | Path) -> ImageInfo | str:
    """Check ``path`` from its header and its last bytes, without decoding pixels (~0.1 ms
    against ~5 ms for ``describe_image`` on a 300x300 PNG): an ``ImageInfo`` with the stored
    size and capture time but no hashes, or the reason it is unusable (never raises).

    A file that does not end as its format's files do (truncated, or data appended), any format
    but PNG, JPEG and GIF, and unusual colour modes are decoded by ``describe_image`` instead,
    so they fail with the same reasons. Damage inside the compressed data is not seen here: the
    training pipeline finds it when it decodes the file.
    """
    path = path if isinstance(path, Path) else Path(path)  # a new Path would format it again
    try:
        # images' own FIFO-safe open and JPEG metadata guard: the same protections as decoding
        with images._open_regular_file(path) as handle, \
                Image.open(images._lean_jpeg(handle)) as img:
            if img.format not in _ENDINGS or img.mode not in _PLAIN_MODES \
                    or not _ends_well(handle, _ENDINGS[img.format]):
                return describe_image(path)
            width, height = img.size
            if width * height > images.MAX_PIXELS:
                raise images._too_large(width * height)
            return ImageInfo(path, width, height, "", "", 0, b"", _taken(img))
    except ImageError as exc:
        return exc.reason
    except Exception as exc:  # Pillow's, while parsing the header
        return images._decode_failure(exc).reason


def _ends_well(handle, ending: bytes) -> bool:
    handle.seek(0, 2)
    if handle.tell() < len(ending):
        return False
    handle.seek(-len(ending), 2)
    return handle.read(len(ending)) == ending


def header_only(info: ImageInfo) -> ImageInfo:
    """``info`` without its hashes (what ``describe_header`` would have given; less memory)."""
    return ImageInfo(info.path, info.width, info.height, "", "", 0, b"", info.taken) \
        if info.hashed else info


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _equal_links(keys: Sequence, signal: str) -> list[Link]:
    first: dict = {}
    links = []
    for i, key in enumerate(keys):
        if not key:  # no hash (``describe_header``): equal to nothing
            continue
        if key in first:
            links.append(Link(first[key], i, signal))
        else:
            first[key] = i
    return links


def _buckets(values: np.ndarray) -> Iterable[np.ndarray]:
    """Index arrays of rows sharing one value (buckets of 2 or more)."""
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1], True])
    for lo, hi in zip(starts[:-1], starts[1:]):
        if hi - lo > 1:
            yield order[lo:hi]


def hash_pairs(hashes: Sequence[int], max_distance: int = HASH_DISTANCE) -> np.ndarray:
    """(P, 2) index pairs i < j of 64-bit hashes at most ``max_distance`` bits apart.

    Multi-index hashing: the 64 bits are cut into ``max_distance + 1`` bands; two hashes that
    close agree on at least one band, so only hashes sharing a band value are compared.
    Files with identical hashes are represented by the first of them: link those separately.
    """
    values = np.asarray([h & (2**64 - 1) for h in hashes], dtype=np.uint64)
    unique, first = np.unique(values, return_index=True)
    bounds = np.linspace(0, 64, max_distance + 2).astype(int)
    found = [np.empty((0, 2), dtype=np.int64)]
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        band = (unique >> np.uint64(lo)) & np.uint64((1 << (hi - lo)) - 1)
        found += [_close_within(unique, members, max_distance) for members in _buckets(band)]
    pairs = np.unique(np.concatenate(found), axis=0)
    pairs = first[pairs]  # from unique hashes back to (the first) files
    return np.sort(pairs, axis=1)[np.lexsort((pairs.max(axis=1), pairs.min(axis=1)))]


def _close_within(unique: np.ndarray, members: np.ndarray, max_distance: int) -> np.ndarray:
    """(P, 2) pairs i < j of ``members`` (indices into ``unique``) close enough."""
    found = [np.empty((0, 2), dtype=np.int64)]
    for start in range(0, len(members), _BLOCK):
        rows = members[start:start + _BLOCK]
        distance = np.bitwise_count(unique[rows][:, None] ^ unique[members][None, :])
        r, c = np.nonzero(distance <= max_distance)
        a, b = rows[r], members[c]
        found.append(np.stack([a, b], axis=1)[a < b])
    return np.concatenate(found)


def _unit_thumbs(infos: Sequence[ImageInfo], rows: np.ndarray) -> np.ndarray:
    """The thumbnails of ``infos[rows]``, centred and scaled to unit length (flat ones stay
    zero: they never match). float32, only the rows asked for: 1 KB an image."""
    t = np.empty((len(rows), len(_THUMB_ZERO)), dtype=np.float32)
    for out, i in enumerate(rows):
        t[out] = np.frombuffer(infos[i].thumb, np.uint8)
    t -= t.mean(axis=1, keepdims=True)
    norms = np.sqrt(np.einsum("ij,ij->i", t, t))  # no N x 256 temporary, unlike linalg.norm
    t /= np.maximum(norms, 1.0)[:, None]
    t[norms <= 1.0] = 0.0
    return t


def similar_links(infos: Sequence[ImageInfo]) -> list[Link]:
    """``"similar picture"`` links: close hashes confirmed by correlated thumbnails (infos
    without hashes, from ``describe_header``, never link)."""
    hashed = np.flatnonzero([i.hashed for i in infos])
    if len(hashed) < len(infos):
        return [Link(int(hashed[x.a]), int(hashed[x.b]), SIMILAR)
                for x in similar_links([infos[i] for i in hashed])]
    if not infos:
        return []
    hashes = [i.dhash for i in infos]
    pairs = [hash_pairs(hashes), np.asarray([(x.a, x.b) for x in _equal_links(hashes, "")],
                                            dtype=np.int64).reshape(-1, 2)]
    pairs = np.concatenate(pairs)
    rows, inverse = np.unique(pairs, return_inverse=True)
    thumbs = _unit_thumbs(infos, rows)
    inverse = inverse.reshape(pairs.shape)
    correlation = np.concatenate([np.zeros(0, np.float32)] + [
        np.einsum("ij,ij->i", thumbs[block[:, 0]], thumbs[block[:, 1]])
        for block in np.split(inverse, range(_BLOCK, len(inverse), _BLOCK))])
    return [Link(int(a), int(b), SIMILAR) for a, b in pairs[correlation >= THUMB_CORRELATION]]


def _series(stem: str) -> tuple[str, int, bool] | None:
    """(name before the index, index, whether that name carries its own short id) or None."""
    prefix = stem.rstrip(_ASCII_DIGITS)  # str methods, not the regex: ~35% less time
    if prefix and prefix[-1].isdecimal():  # a digit of another script ends the index
        found = _INDEXED.match(stem)
        prefix = found.group(1)
    if not prefix or len(prefix) == len(stem):
        return None
    base = prefix.rstrip("-_ .")
    # the id's pattern needs at most its last 4 digits (the look-behind sees further back)
    return prefix, int(stem[len(prefix):]), base != prefix and \
        _SERIES_ID.search(base, max(0, len(base) - 4)) is not None


def name_links(paths: Sequence[Path], infos: Sequence[ImageInfo | None] | None = None
               ) -> list[Link]:
    """``"name series"`` and ``"burst"`` links from file names (see the module docstring)."""
    series: dict[tuple, list[tuple[int, int]]] = {}
    # str: 5x faster than Path.parent and .stem; interned: one string per folder, not per file
    split = [os.fspath(path).rpartition(os.sep) for path in paths]
    folders = [sys.intern(folder) for folder, _, _ in split]
    for i, (_, _, name) in enumerate(split):
        parsed = _series(split_suffix(name)[0])
        if parsed is not None:
            prefix, number, has_id = parsed
            series.setdefault((folders[i], prefix.lower(), has_id), []).append((number, i))
    per_folder = Counter(folders)
    links = []
    for (folder, _, has_id), members in series.items():
        if per_folder[folder] >= SCHEME_MIN and len(members) > SCHEME_SHARE * per_folder[folder]:
            continue  # most of a big folder: a naming scheme, not one subject
        members.sort()
        for (n1, a), (n2, b) in zip(members, members[1:]):
            if has_id:
                links.append(Link(a, b, NAME_SERIES))
            elif n2 - n1 <= BURST_GAP and infos is not None and _shot_together(infos[a], infos[b]):
                links.append(Link(a, b, BURST))
    return links


def _shot_together(a: ImageInfo | None, b: ImageInfo | None) -> bool:
    if a is None or b is None:
        return False
    if a.taken is not None and b.taken is not None and abs(a.taken - b.taken) <= BURST_SECONDS:
        return True
    return a.hashed and b.hashed and (a.dhash ^ b.dhash).bit_count() <= BURST_HASH_DISTANCE


def feature_links(features: np.ndarray, k: int = 5, threshold: float = 0.9) -> list[Link]:
    """``"features"`` links: pairs that are each among the other's ``k`` nearest neighbours
    (cosine similarity) and at least ``threshold`` similar. ``features`` is (N, D).

    Computed in blocks of rows, so memory stays O(block x N), never N x N.
    """
    x = np.asarray(features, dtype=np.float32)
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    n, k = len(x), min(k, len(x) - 1)
    if k < 1:
        return []
    neighbours = np.empty((n, k), dtype=np.int64)
    similar = np.empty((n, k), dtype=np.float32)
    for start in range(0, n, _BLOCK):
        sims = x[start:start + _BLOCK] @ x.T
        rows = np.arange(len(sims))
        sims[rows, rows + start] = -np.inf
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        neighbours[start:start + len(sims)] = top
        similar[start:start + len(sims)] = np.take_along_axis(sims, top, axis=1)
    near = {(i, int(j)) for i in range(n) for j, s in zip(neighbours[i], similar[i])
            if s >= threshold}
    return [Link(i, j, FEATURES) for i, j in sorted(near) if i < j and (j, i) in near]


def find_links(infos: Sequence[ImageInfo], features: np.ndarray | None = None,
               signals: Sequence[str] = DEFAULT_SIGNALS) -> list[Link]:
    """Every link between ``infos`` (indices into it): ``signals`` (``NAME_SIGNALS`` for
    infos from ``describe_header``), plus ``features`` (an (N, D) matrix in the same order)
    when given."""
    links = []
    if SAME_BYTES in signals:
        links += _equal_links([i.digest for i in infos], SAME_BYTES)
    if SAME_PIXELS in signals:
        links += _equal_links([i.pixels for i in infos], SAME_PIXELS)
    if SIMILAR in signals:
        links += similar_links(infos)
    if NAME_SERIES in signals or BURST in signals:
        links += [link for link in name_links([i.path for i in infos], infos)
                  if link.signal in signals]
    if features is not None:
        if len(features) != len(infos):
            raise ValueError(f"`features` needs one row per image ({len(infos)}). "
                             f"Received: {len(features)} rows")
        links += feature_links(features)
    return links


def group_ids(n: int, links: Iterable[Link]) -> list[int]:
    """Group number per index (0, 1, ... in order of first appearance) from ``links``."""
    sets = _UnionFind(n)
    for link in links:
        sets.union(link.a, link.b)
    numbers: dict[int, int] = {}
    return [numbers.setdefault(sets.find(i), len(numbers)) for i in range(n)]


def group_images(infos: Sequence[ImageInfo], features: np.ndarray | None = None,
                 links: Sequence[Link] | None = None) -> tuple[FileGroup, ...]:
    """One ``FileGroup`` per info, same order: near-duplicates and series share a group.

    Uses ``DEFAULT_SIGNALS`` (plus ``"features"`` when ``features`` is given); pass ``links``
    from ``find_links`` to reuse them.
    """
    links = find_links(infos, features) if links is None else links
    ids = group_ids(len(infos), links)
    signals: list[set[str]] = [set() for _ in infos]
    for link in links:
        signals[link.a].add(link.signal)
        signals[link.b].add(link.signal)
    return tuple(FileGroup(info.path, ids[i], tuple(sorted(signals[i])))
                 for i, info in enumerate(infos))


def _class_targets(totals: np.ndarray, fraction: float) -> np.ndarray:
    """Images to hold out per class: round(n * fraction), at least 1 each side when n >= 2."""
    held = np.floor(totals * fraction + 0.5).astype(int)
    return np.where(totals >= 2, np.clip(held, 1, np.maximum(totals - 1, 1)), 0)


def split_groups(labels: Sequence[int], groups: Sequence[int], fraction: float, seed: int
                 ) -> np.ndarray:
    """Which items go to validation (a bool array): whole groups, stratified by class, seeded.

    Groups are visited in an order drawn from ``seed``; a group is held out when that brings
    every class's held-out count closer to round(n * fraction) and leaves each of its classes
    an image to train on. A class left with nothing held out although it has two groups or more
    gets its smallest group held out. With one-image groups this is exactly a per-class
    stratified split of round(n * fraction) images.
    """
    labels, groups = np.asarray(labels, dtype=int), np.asarray(groups, dtype=int)
    n_classes, n_groups = labels.max(initial=-1) + 1, groups.max(initial=-1) + 1
    counts = np.zeros((n_groups, n_classes), dtype=int)
    np.add.at(counts, (groups, labels), 1)
    totals = counts.sum(axis=0)
    target = _class_targets(totals, fraction)
    held = np.zeros(n_classes, dtype=int)
    chosen = np.zeros(n_groups, dtype=bool)
    for g in np.random.default_rng(seed).permutation(n_groups):
        after = held + counts[g]
        if np.abs(after - target).sum() < np.abs(held - target).sum() \
                and np.all(after[counts[g] > 0] < totals[counts[g] > 0]):
            chosen[g], held = True, after
    for c in np.flatnonzero((held == 0) & (target > 0)):
        for g in sorted(np.flatnonzero(counts[:, c] > 0), key=lambda g: counts[g].sum()):
            after = held + counts[g]
            if not chosen[g] and np.all(after[counts[g] > 0] < totals[counts[g] > 0]):
                chosen[g], held = True, after
                break
    return chosen[groups]

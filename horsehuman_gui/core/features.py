"""Pass images through a frozen backbone once: batched, streamed, cached, cancellable.

With the backbone frozen, an image's features never change, so each is computed once and the
head trains on them in milliseconds an epoch. Augmentation then means a few augmented copies of
each training image, each passed through the backbone once and cached like the image itself.

Memory stays bounded: images are decoded a few batches ahead in a thread pool, two batches are
in the backbone at once (``core.batch_flow``), and only the feature vectors are kept. A file
that cannot be read is reported with its reason and left out; it never ends the run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from horsehuman_gui.core.augment import augmenter
from horsehuman_gui.core.batch_flow import BatchFlow
from horsehuman_gui.core.errors import HorsehumanError
from horsehuman_gui.core.feature_cache import DIGEST_SIZE, FeatureCache, FeatureKey, file_state
from horsehuman_gui.core.images import array_or_reason, stat_or_reason
from horsehuman_gui.core.tfsetup import load_tensorflow

load_tensorflow()
import tensorflow as tf  # noqa: E402

logger = logging.getLogger(__name__)

#: Batches decoded ahead of the one the backbone is working on.
BATCHES_AHEAD = 4
#: Seconds between two progress reports; the last one is always made.
PROGRESS_INTERVAL = 0.1


class ExtractionCancelled(HorsehumanError):
    """``should_stop()`` returned True while features were being computed."""

    def __init__(self) -> None:
        super().__init__("feature extraction cancelled")


@dataclass(frozen=True)
class Features:
    """Feature vectors of ``paths``: ``vectors[c, i]`` is copy ``c`` (0 = the image itself,
    1.. augmented) of ``paths[i]``. Rows of files in ``failed`` (path -> reason) are zeros and
    ``ok`` is False for them. ``computed`` counts vectors made now, the others came from the
    cache."""

    paths: tuple[Path, ...]
    vectors: np.ndarray = field(repr=False)
    ok: np.ndarray = field(repr=False)
    failed: dict[Path, str]
    computed: int


def extract_features(paths: Sequence[str | Path], extractor, key: FeatureKey, *,
                     copies: int = 0, seed: int = 0, batch_size: int = 32,
                     cache: FeatureCache | None = None,
                     on_progress: Callable[[int, int], None] | None = None,
                     should_stop: Callable[[], bool] | None = None) -> Features:
    """Features of every file in ``paths`` through ``extractor`` (a Keras model taking float
    0-255 RGB of ``key.size`` pixels, returning (batch, dim)).

    ``copies`` augmented copies per file use ``key.augment``'s preset, seeded by ``seed``.
    Vectors found in ``cache`` are not computed again; new ones are stored as each batch ends
    (so work done before a cancel is kept). ``on_progress(done, total)`` counts vectors (cached
    ones included), ~10 a second and always the last. ``should_stop()`` is checked between
    batches; True raises ``ExtractionCancelled``.
    """
    job = _Extraction([Path(p) for p in paths], extractor, key, copies, seed, batch_size,
                      cache, on_progress, should_stop)
    return job.run()


class _Extraction:
    def __init__(self, paths, extractor, key, copies, seed, batch_size, cache, on_progress,
                 should_stop):
        if key.augment == "off" and copies:
            raise ValueError(f"`copies` needs an augmentation preset. Received: {copies} copies "
                             "with augment 'off'")
        self.paths, self.key, self.copies = paths, key, copies
        self.batch_size, self.cache = batch_size, cache
        self.report = on_progress or (lambda done, total: None)
        self.should_stop = should_stop or (lambda: False)
        self.forward = _compiled(extractor, key.size)
        self.augment = augmenter(key.augment, seed) if copies else None
        self.failed: dict[Path, str] = {}
        self.total, self.done, self.computed, self._last = len(paths) * (copies + 1), 0, 0, 0.0
        self.vectors: np.ndarray | None = None
        self.stats: list = []  # per file, ``file_state`` before it was read (with a cache)

    def keys(self) -> list[FeatureKey]:
        """Copy 0's key ignores the preset: the image itself is the same for every preset."""
        plain = dataclasses.replace(self.key, augment="off")
        return [plain] + [self.key] * self.copies

    def run(self) -> Features:
        self._progress(force=True)
        digests = self._known_digests()
        have = self._cached(digests)
        todo = [i for i in range(len(self.paths))
                if i not in self.failed and not all(h[i] for h in have)]
        self._compute(todo, digests, have)
        self._progress(force=True)
        ok = np.array([i not in self.failed and all(h[i] for h in have)
                       for i in range(len(self.paths))], dtype=bool)
        failed = {self.paths[i]: reason for i, reason in self.failed.items()}
        vectors = self.vectors if self.vectors is not None else \
            np.zeros((self.copies + 1, len(self.paths), 0), np.float32)
        return Features(tuple(self.paths), vectors, ok, failed, self.computed)

    def _known_digests(self) -> list[str | None]:
        """The digest of each file the cache has seen unchanged (same size, dates and inode),
        without reading it; None for the others, hashed as they are read to be decoded."""
        digests: list[str | None] = [None] * len(self.paths)
        if self.cache is None:  # nothing to look up: no file is hashed at all
            return digests
        self.stats = [_state_or_reason(path) for path in self.paths]
        for i, found in enumerate(self.stats):
            if isinstance(found, str):
                self._fail(i, found)
        self._check_stop()
        known = self.cache.known_digests(
            [(path, found) for path, found in zip(self.paths, self.stats)
             if not isinstance(found, str)])
        return [known.get(path) for path in self.paths]

    def _cached(self, digests) -> list[np.ndarray]:
        """Per copy, a bool per file: its vector is in ``self.vectors`` already."""
        have = [np.zeros(len(self.paths), dtype=bool) for _ in range(self.copies + 1)]
        if self.cache is not None:
            self._look_up(digests, range(len(self.paths)), have)
        self.done = sum(int(h.sum()) for h in have)
        return have

    def _look_up(self, digests, indices: Sequence[int], have) -> int:
        """Fill ``have`` and the vectors from the cache for ``indices``; return how many."""
        indices = [i for i in indices if digests[i] is not None]
        added = 0
        for copy, key in enumerate(self.keys()):
            missing = [i for i in indices if not have[copy][i]]
            found = self.cache.get([digests[i] for i in missing], key, copy) if missing else {}
            for i in missing:
                if digests[i] in found:
                    self._store(copy, [i], found[digests[i]][None, :])
                    have[copy][i] = True
                    added += 1
        return added

    def _compute(self, todo: list[int], digests, have) -> None:
        batches = [todo[i:i + self.batch_size] for i in range(0, len(todo), self.batch_size)]

        def prepare(batch: list[int], results: list) -> list[tuple]:
            decoded = self._digested(batch, results, digests, have)
            return [(work, work[2]) for work in self._inputs(batch, decoded, have)]

        flow = BatchFlow(batches, lambda i: self._decode(i, digests[i] is None), prepare,
                         self._forward, should_stop=self.should_stop,
                         batches_ahead=BATCHES_AHEAD, name="features")
        for work, vectors in flow:  # also when stopped: what was computed is kept
            self._finish(work, vectors, digests, have)
        if flow.stopped:
            raise ExtractionCancelled()

    def _decode(self, index: int, hash_it: bool) -> tuple[np.ndarray | str, str | None]:
        """A file's pixels (or why not) and, when asked, the digest of the bytes decoded: the
        file is read once for both."""
        if not hash_it or self.cache is None:
            return array_or_reason(self.paths[index], self.key.size), None
        digest = hashlib.blake2b(digest_size=DIGEST_SIZE)
        pixels = array_or_reason(self.paths[index], self.key.size, digest=digest)
        return pixels, (None if isinstance(pixels, str) else digest.hexdigest())

    def _digested(self, batch: list[int], results: list, digests, have) -> list:
        """The batch's pixels; digests made while decoding are recorded (with the file's
        state before it was read) and looked up: a renamed or copied file needs no forward."""
        new = [(i, digest) for i, (_, digest) in zip(batch, results) if digest is not None]
        if new:
            for i, digest in new:
                digests[i] = digest
            self.done += self._look_up(digests, [i for i, _ in new], have)
            self.cache.remember_digests([(self.paths[i], self.stats[i], digest)
                                         for i, digest in new])
        return [pixels for pixels, _ in results]

    def _inputs(self, batch: list[int], decoded: list, have) -> list[tuple]:
        """The forward passes ``batch`` needs: (copy, indices, images) per copy not cached.
        Augmentation happens here, in order, so a seed gives the same copies every run."""
        good = []
        for i, pixels in zip(batch, decoded):
            if isinstance(pixels, str):
                self._fail(i, pixels)
                self.done += sum(1 for h in have if not h[i])
            else:
                good.append((i, pixels))
        work = []
        for copy in range(self.copies + 1):
            chosen = [(i, p) for i, p in good if not have[copy][i]]
            if not chosen:
                continue
            images = np.stack([p for _, p in chosen])  # uint8: cast inside the graph
            if copy:
                images = self.augment(tf.cast(images, tf.float32), training=True)
            work.append((copy, [i for i, _ in chosen], images))
        if not work:
            self._progress()
        return work

    def _forward(self, images) -> np.ndarray:
        return self.forward(images).numpy()

    def _finish(self, work: tuple, vectors: np.ndarray, digests, have) -> None:
        copy, indices, _ = work
        self._store(copy, indices, vectors)
        for i in indices:
            have[copy][i] = True
        if self.cache is not None:
            key = self.keys()[copy]
            self.cache.put({digests[i]: v for i, v in zip(indices, vectors)}, key, copy)
        self.computed += len(indices)
        self.done += len(indices)
        self._progress()

    def _store(self, copy: int, indices: list[int], vectors: np.ndarray) -> None:
        if self.vectors is None:
            self.vectors = np.zeros((self.copies + 1, len(self.paths), vectors.shape[-1]),
                                    np.float32)
        self.vectors[copy, indices] = vectors

    def _fail(self, index: int, reason: str) -> None:
        self.failed[index] = reason
        logger.warning("Skipped %s: %s", self.paths[index], reason)

    def _check_stop(self) -> None:
        if self.should_stop():
            raise ExtractionCancelled()

    def _progress(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or self.done >= self.total or now - self._last >= PROGRESS_INTERVAL:
            self._last = now
            self.report(self.done, self.total)


def _compiled(extractor, size: int):
    """``extractor(x, training=False)`` for uint8 or float32 pixels, any batch size.

    Decoded images go in as uint8 and are cast inside the graph, on all cores, rather than by
    NumPy on the calling thread while the backbone waits (a quarter of the bytes to hand over).
    Each input type is traced once per extractor and size, on first use, and kept while the
    extractor lives: tracing the default backbone costs ~0.2 s, which every call of
    ``extract_features`` (two a training run) paid again, with the cores half idle."""
    functions = _compiled_functions.setdefault(extractor, {})
    if size not in functions:
        owner = weakref.ref(extractor)  # a strong reference would keep the extractor forever

        def forward(x):
            return owner()(tf.cast(x, tf.float32), training=False)

        traced = {dtype: tf.function(forward, autograph=False,
                                     input_signature=[tf.TensorSpec((None, size, size, 3),
                                                                    dtype)])
                  for dtype in (tf.uint8, tf.float32)}
        functions[size] = lambda x: traced[tf.as_dtype(x.dtype)](x)
    return functions[size]


#: extractor -> {size: compiled forward}; an entry goes with its extractor.
_compiled_functions: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _state_or_reason(path: Path) -> tuple[int, int, int, int] | str:
    """What says a file is unchanged since its digest was made, or why it cannot be read."""
    found = stat_or_reason(path)
    return found if isinstance(found, str) else file_state(found)

"""tf.data input pipelines over image files: parallel decode, reshuffle, batch, prefetch.

Images are decoded by Pillow (``images.load_array``), not ``tf.io.decode_image``: Pillow handles
WebP, TIFF, CMYK, 16-bit and EXIF rotation, which TensorFlow's decoders do not. A thread pool
decodes ahead of the model (Pillow releases the GIL while decoding); batches are assembled in
Python and handed to tf.data through ``from_generator``, one generator run per epoch.

Memory stays bounded: only paths are shuffled, and decoded pixels are kept for later epochs only
when the whole part fits the cache budget. Otherwise the pipeline streams, holding a few batches
at a time however many files there are.

When the part is cached, filling the cache starts as soon as the dataset is made, in the first
epoch's order, at full speed: it overlaps with building and tracing the model (seconds in which
a core is idle), so the first epoch mostly finds its images decoded already.
"""

from __future__ import annotations

import logging
import weakref
from collections import deque
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from typing import Callable, Iterator, Sequence

import numpy as np

from horsehuman_gui.core.tfsetup import load_tensorflow

load_tensorflow()  # quiet start-up logs: must run before this module's own TensorFlow import
import tensorflow as tf  # noqa: E402

from horsehuman_gui.core.batch_flow import DECODE_THREADS  # noqa: E402
from horsehuman_gui.core.dataset import LabeledImage  # noqa: E402
from horsehuman_gui.core.errors import ImageError  # noqa: E402
from horsehuman_gui.core.images import load_array  # noqa: E402

logger = logging.getLogger(__name__)



def make_dataset(items: Sequence[LabeledImage], num_classes: int, image_size: int,
                 batch_size: int, *, training: bool, seed: int = 0,
                 cache_budget_bytes: int = 0,
                 should_stop: Callable[[], bool] | None = None,
                 epoch: Callable[[], int] | None = None,
                 keep_alive: list | None = None) -> tf.data.Dataset:
    """A dataset of ``(images, labels)`` batches over ``items``.

    ``images`` are uint8 (B, S, S, 3) raw 0-255 RGB, ``S = image_size``; ``labels`` are float32
    (B, 1) holding 0/1 when ``num_classes == 2``, else one-hot (B, num_classes). With
    ``training`` the order is reshuffled each epoch (seeded by ``seed`` and the epoch number);
    otherwise items come in the given order. Decoded images are cached in RAM when
    ``len(items) * S * S * 3 <= cache_budget_bytes``. A file that fails to decode is logged,
    dropped from this and later epochs, and never stops the run. When ``should_stop`` (called
    from tf.data's thread, so it must be thread-safe) returns True, the epoch ends early.

    ``epoch()`` gives the number of the epoch about to start (training passes Keras's own); by
    default each pass over the dataset counts as the next epoch. Keras creates a spare
    iterator at the end of every epoch and drops it: with a call count, that spare would
    consume an epoch number at a moment that depends on thread timing.

    With ``keep_alive`` (a list), the dataset holds its image source only weakly and the source
    is appended to the list: clearing the list frees the decoded-image cache. TensorFlow keeps
    every ``from_generator`` callable in a registry for the life of the process, so without
    this the cache (277 MB for 1,027 images at 300 px) outlives training.
    """
    source = ImageSource(items, num_classes, image_size, batch_size, training=training,
                         seed=seed, cache_budget_bytes=cache_budget_bytes,
                         should_stop=should_stop, epoch=epoch)
    label_width = 1 if num_classes == 2 else num_classes
    signature = (tf.TensorSpec((None, image_size, image_size, 3), tf.uint8),
                 tf.TensorSpec((None, label_width), tf.float32))
    generator = source
    if keep_alive is not None:
        keep_alive.append(source)
        generator = _weakly(source)
    dataset = tf.data.Dataset.from_generator(generator, output_signature=signature)
    if not source.caching:
        # Streaming: one batch decoded and ready while the model works on the current one.
        # Cached, a batch is a copy out of RAM (~20 ms): a batch made ahead would only sit in
        # memory beside the training step's own peak (measured: +0.2 GB of peak RSS).
        dataset = dataset.prefetch(1)
    options = tf.data.Options()
    # Nothing here for tf.data to tune, and its tuning thread makes deleting an iterator wait
    # for the thread's next wake-up: up to ~25 s at the start of every epoch (Keras drops an
    # iterator there), seen with gdb in ~RootDataset::Iterator.
    options.autotune.enabled = False
    return dataset.with_options(options)


class ImageSource:
    """Called once per epoch (by tf.data), yields batches of decoded images and labels.

    Kept separate from tf.data so it can be tested and reused without TensorFlow's iterator.
    """

    def __init__(self, items: Sequence[LabeledImage], num_classes: int, image_size: int,
                 batch_size: int, *, training: bool, seed: int, cache_budget_bytes: int,
                 should_stop: Callable[[], bool] | None = None,
                 epoch: Callable[[], int] | None = None):
        if num_classes < 2:
            raise ValueError(f"`num_classes` must be >= 2. Received: {num_classes!r}")
        if batch_size < 1:
            raise ValueError(f"`batch_size` must be >= 1. Received: {batch_size!r}")
        self.paths = [item.path for item in items]
        self.labels = _label_array([item.label for item in items], num_classes)
        self.image_size = image_size
        self.batch_size = batch_size
        self.training = training
        self.seed = seed
        self.should_stop = should_stop
        self.epoch_fn = epoch
        self.passes = 0
        self.failed: dict[int, str] = {}  # index -> reason, dropped from every later epoch
        self.released = False
        self.cache = self._allocate_cache(cache_budget_bytes)
        self.cached = np.zeros(len(self.paths), dtype=bool)
        self.filling: dict[int, Future] = self._start_filling() if self.caching else {}

    @property
    def caching(self) -> bool:
        return self.cache is not None

    def release(self) -> None:
        """The data is used for the last time: free the decoded images now, though an iterator
        may still hold this source (Keras drops its own only when ``fit`` returns). Nothing
        here holds a view of the cache between batches, so it goes at once. Passes started
        after this, or resumed, yield nothing more."""
        self.released = True
        _cancel(list(self.filling.values()))
        self.filling = {}
        self.cache = None

    def _allocate_cache(self, budget: int) -> np.ndarray | None:
        shape = (len(self.paths), self.image_size, self.image_size, 3)
        needed = int(np.prod(shape))
        if needed == 0 or needed > budget:
            logger.debug("streaming %d images (%d bytes > cache budget %d)",
                         shape[0], needed, budget)
            return None
        # np.empty only reserves address space: pages are committed as images are decoded.
        return np.empty(shape, dtype=np.uint8)

    def _start_filling(self) -> dict[int, Future]:
        """Decode every image into the cache in the background, first epoch's order first."""
        pool = ThreadPoolExecutor(DECODE_THREADS, thread_name_prefix="cache-fill")
        owner = weakref.ref(self)  # queued work must not keep a dropped source alive
        futures = {int(i): pool.submit(_load_if_alive, owner, int(i))
                   for i in self.order(self._epoch())}
        pool.shutdown(wait=False)  # the threads end once the queue is done
        # A source dropped early (training stopped) must not go on decoding for nothing.
        weakref.finalize(self, _cancel, list(futures.values()))
        return futures

    def _epoch(self) -> int:
        return self.passes if self.epoch_fn is None else self.epoch_fn()

    def order(self, epoch: int) -> np.ndarray:
        """Indices for ``epoch`` (0-based), without files already known to be bad."""
        count = len(self.paths)
        if self.training:
            indices = np.random.default_rng([self.seed, epoch]).permutation(count)
        else:
            indices = np.arange(count)
        if self.failed:
            indices = indices[~np.isin(indices, list(self.failed))]
        return indices

    def __call__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        order = self.order(self._epoch())
        self.passes += 1
        batch: list[int] = []
        pixels: list[np.ndarray] = []
        for index, array in self._decoded(order):
            if array is None or (self.should_stop is not None and self.should_stop()):
                return  # None: released
            batch.append(index)
            pixels.append(array)
            del array  # views of the cache: none may be held while this generator waits
            if len(batch) == self.batch_size:
                images = np.stack(pixels)
                pixels.clear()
                yield images, self.labels[batch]
                batch = []
        if batch:
            images = np.stack(pixels)
            pixels.clear()
            yield images, self.labels[batch]

    def _decoded(self, order: np.ndarray) -> Iterator[tuple[int, np.ndarray | None]]:
        """(index, pixels) in ``order``, decoding a few images ahead in a thread pool.

        A few are enough: tf.data holds the next batch ready, so decoding only has to keep up.
        """
        lookahead = 4 * DECODE_THREADS
        pool = ThreadPoolExecutor(DECODE_THREADS, thread_name_prefix="decode")
        try:
            pending: deque = deque()
            position = 0
            while position < len(order) or pending:
                while position < len(order) and len(pending) < lookahead:
                    pending.append(self._request(int(order[position]), pool))
                    position += 1
                if self.released:
                    return
                index, future = pending.popleft()
                try:
                    result = True if future is None else future.result()
                except CancelledError:  # by ``release`` (or the source's end): nothing more
                    return
                if result is not None:  # else failed: its reason is recorded
                    # A cached image's view is made in the yield, not kept in a variable of
                    # this generator (see ``release``); None once released.
                    yield index, (self._cached(index) if result is True else result)
        finally:  # the epoch may be abandoned (stop requested): do not decode the rest
            pool.shutdown(wait=False, cancel_futures=True)

    def _cached(self, index: int) -> np.ndarray | None:
        cache = self.cache
        return None if cache is None else cache[index]

    def _request(self, index: int, pool: ThreadPoolExecutor) -> tuple[int, Future | None]:
        """(index, None) when cached, else a future for its pixels (the cache filler's if any)."""
        if self.cached[index]:
            return index, None
        future = self.filling.get(index)
        if future is None or future.cancelled():
            future = pool.submit(self._load, index)
        return index, future

    def _load(self, index: int) -> np.ndarray | None:
        return self._store(index, _decode(self.paths[index], self.image_size))

    def _store(self, index: int, result: np.ndarray | str) -> np.ndarray | bool | None:
        """Keep decoded pixels: True once in the cache, else the pixels; None (its reason
        logged and remembered) when the file failed."""
        if isinstance(result, str):
            self.failed[index] = result
            logger.warning("Skipped %s during training: %s", self.paths[index], result)
            return None
        cache = self.cache  # None once released
        if cache is not None:
            cache[index] = result
            self.cached[index] = True
            return True
        return None if self.released else result


def _decode(path, size: int) -> np.ndarray | str:
    try:
        return load_array(path, size)
    except ImageError as exc:
        return exc.reason


def _load_if_alive(owner: weakref.ref, index: int) -> np.ndarray | None:
    """The cache filler's task. Holds its source only around the bookkeeping, not while
    decoding: otherwise the tasks running back to back would keep a dropped source alive."""
    source = owner()
    if source is None:
        return None
    path, size = source.paths[index], source.image_size
    del source
    result = _decode(path, size)
    source = owner()
    return None if source is None else source._store(index, result)


def _weakly(source: "ImageSource") -> Callable[[], Iterator]:
    """A generator function that reaches ``source`` through a weak reference (none once it is
    gone: an iterator made after training has nothing to yield)."""
    owner = weakref.ref(source)

    def generate():
        alive = owner()
        return iter(()) if alive is None else alive()

    return generate


def _cancel(futures: list[Future]) -> None:
    for future in futures:
        future.cancel()


def _label_array(labels: Sequence[int], num_classes: int) -> np.ndarray:
    labels = np.asarray(labels, dtype=np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels must be in 0..{num_classes - 1}. "
                         f"Received: {labels.min()}..{labels.max()}")
    if num_classes == 2:
        return labels.astype(np.float32).reshape(-1, 1)
    return np.eye(num_classes, dtype=np.float32)[labels]


def image_datasets(report, config, progress, keep_alive: list):
    """Training and validation datasets of a ``ScanReport``'s decoded images for a
    ``TrainConfig``, sharing one cache budget, training first; their image sources are appended
    to ``keep_alive`` (the caller's to drop after fit: see ``make_dataset``). Training batches
    are reshuffled by the epoch ``progress.epoch`` (Keras's: a resumed run sees the same order
    as one that never stopped); validation stops producing once ``progress.stopped``: the
    cut-short epoch is not validated."""
    budget = config.cache_budget_mb * 2**20
    per_image = config.image_size ** 2 * 3
    num_classes = len(report.classes)
    train_ds = make_dataset(report.train, num_classes, config.image_size, config.batch_size,
                            training=True, seed=config.seed, cache_budget_bytes=budget,
                            epoch=lambda: progress.epoch,  # Keras's epoch: see make_dataset
                            keep_alive=keep_alive)
    train_bytes = len(report.train) * per_image
    val_budget = budget - train_bytes if train_bytes <= budget else budget
    val_ds = None
    if report.validation:
        val_ds = make_dataset(report.validation, num_classes, config.image_size,
                              config.batch_size, training=False, seed=config.seed,
                              cache_budget_bytes=val_budget,
                              should_stop=lambda: progress.stopped, keep_alive=keep_alive)
    return train_ds, val_ds


def skipped_files(sources) -> dict:
    """path -> reason for every file ``sources`` (``image_datasets``'s) could not read."""
    return {source.paths[index]: reason for source in sources
            for index, reason in source.failed.items()}

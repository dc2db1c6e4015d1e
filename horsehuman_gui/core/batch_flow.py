"""Files to a model in batches: decoded ahead in threads, two forward passes at once.

The loop feature extraction and classifying share. Decoding (Pillow and libspng release the GIL)
runs a few batches ahead of the model, and two batches are in the model at once: while one
batch's outputs come back to Python the next one already keeps the cores busy (~1.95 instead of
~1.8 of 2 cores in use). No TensorFlow here: the GUI imports classifying before it has loaded.
"""

from __future__ import annotations

import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Iterator, Sequence

#: Decoding threads; the model uses the cores too, so more would only contend.
DECODE_THREADS = max(1, min(4, os.cpu_count() or 1))
#: Forward passes running at once.
FORWARDS_IN_FLIGHT = 2


class BatchFlow:
    """Iterating gives ``(tag, outputs)`` for each piece of work, in the order it was made.

    Each item of each of ``batches`` is decoded by ``decode(item)`` in a thread pool,
    ``batches_ahead`` batches ahead of the one being worked on. ``prepare(batch, decoded)``, on
    the iterating thread, turns a decoded batch into its work: ``(tag, inputs)`` pairs, none or
    several. ``forward(inputs)`` runs in a second pool, ``FORWARDS_IN_FLIGHT`` at a time;
    ``inputs`` None runs nothing and gives None. ``should_stop()`` is checked before each batch:
    once it is True no other batch starts, the work already in the model is still given, and
    ``stopped`` is True. Closing the iteration early drops the decoding queued ahead; the model
    is in use until the forward passes under way have ended.
    """

    def __init__(self, batches: Sequence[Sequence], decode: Callable[[Any], Any],
                 prepare: Callable[[Sequence, list], list[tuple[Any, Any]]],
                 forward: Callable[[Any], Any], *, should_stop: Callable[[], bool],
                 batches_ahead: int, name: str):
        self._batches, self._decode, self._prepare = batches, decode, prepare
        self._forward, self._should_stop = forward, should_stop
        self._ahead, self._name = batches_ahead, name
        self.stopped = False

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        batches = self._batches
        decoders = ThreadPoolExecutor(DECODE_THREADS, thread_name_prefix=f"{self._name}-decode")
        forwards = ThreadPoolExecutor(FORWARDS_IN_FLIGHT,
                                      thread_name_prefix=f"{self._name}-forward")
        try:
            pending: deque[list[Future]] = deque()
            running: deque[tuple[Any, Future | None]] = deque()
            for number, batch in enumerate(batches):
                if self._should_stop():
                    self.stopped = True
                    break
                while len(pending) <= self._ahead and number + len(pending) < len(batches):
                    ahead = batches[number + len(pending)]
                    pending.append([decoders.submit(self._decode, item) for item in ahead])
                decoded = [future.result() for future in pending.popleft()]
                for tag, inputs in self._prepare(batch, decoded):
                    running.append((tag, None if inputs is None
                                    else forwards.submit(self._forward, inputs)))
                while len(running) >= FORWARDS_IN_FLIGHT:
                    yield _outputs(*running.popleft())
            while running:  # also when stopped: that work is done, or nearly
                yield _outputs(*running.popleft())
        finally:
            decoders.shutdown(wait=False, cancel_futures=True)
            forwards.shutdown(wait=True, cancel_futures=True)


def _outputs(tag, future: Future | None) -> tuple[Any, Any]:
    return tag, None if future is None else future.result()

"""The tf.data pipeline over files: shapes, labels, reshuffling, cache vs stream, bad files."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import make_class_folders
from horsehuman_gui.core.dataset import LabeledImage
from horsehuman_gui.core.pipeline import ImageSource, make_dataset

SIZE = 32
IMAGE_BYTES = SIZE * SIZE * 3


def labelled(root: Path, classes=("blue", "red")) -> list[LabeledImage]:
    return [LabeledImage(path, label) for label, name in enumerate(classes)
            for path in sorted((root / name).iterdir())]


def epoch(dataset) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """All images and labels of one pass, and the batch sizes seen."""
    images, labels, sizes = [], [], []
    for x, y in dataset:
        images.append(x.numpy())
        labels.append(y.numpy())
        sizes.append(x.shape[0])
    return np.concatenate(images), np.concatenate(labels), sizes


def fingerprints(images: np.ndarray) -> list[bytes]:
    return [image.tobytes() for image in images]


def test_binary_batches_have_raw_pixels_and_one_label_column(class_folders):
    dataset = make_dataset(labelled(class_folders), 2, SIZE, 8, training=False)

    images, labels, sizes = epoch(dataset)

    assert images.dtype == np.uint8 and images.shape == (20, SIZE, SIZE, 3)
    assert labels.dtype == np.float32 and labels.shape == (20, 1)
    assert sizes == [8, 8, 4]
    # in order when not training: 10 blue (label 0) then 10 red (label 1)
    assert labels[:, 0].tolist() == [0.0] * 10 + [1.0] * 10
    blue_is_blue = images[:10, ..., 2].mean() > 150 and images[:10, ..., 0].mean() < 80
    red_is_red = images[10:, ..., 0].mean() > 150 and images[10:, ..., 2].mean() < 80
    assert blue_is_blue and red_is_red


def test_three_classes_get_one_hot_labels(tmp_path):
    root = make_class_folders(tmp_path / "rgb", classes=("blue", "green", "red"), per_class=3)
    items = labelled(root, ("blue", "green", "red"))

    _, labels, _ = epoch(make_dataset(items, 3, SIZE, 4, training=False))

    assert labels.shape == (9, 3)
    assert labels.argmax(axis=1).tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert np.all(labels.sum(axis=1) == 1)


def test_images_are_resized_to_the_requested_size(tmp_path):
    root = make_class_folders(tmp_path / "big", per_class=2, size=50)

    images, _, _ = epoch(make_dataset(labelled(root), 2, 24, 4, training=False))

    assert images.shape == (4, 24, 24, 3)


def test_training_order_is_reshuffled_each_epoch_and_seeded(class_folders):
    items = labelled(class_folders)
    dataset = make_dataset(items, 2, SIZE, 6, training=True, seed=7)
    again = make_dataset(items, 2, SIZE, 6, training=True, seed=7)

    first, second = (fingerprints(epoch(dataset)[0]) for _ in range(2))
    replay = [fingerprints(epoch(again)[0]) for _ in range(2)]

    assert first != second  # a new order each epoch...
    assert sorted(first) == sorted(second)  # ...of the same images
    assert [first, second] == replay  # and the same sequence for the same seed


def test_labels_follow_their_images_when_shuffled(class_folders):
    images, labels, _ = epoch(make_dataset(labelled(class_folders), 2, SIZE, 5,
                                           training=True, seed=3))

    reddish = images[..., 0].mean(axis=(1, 2)) > images[..., 2].mean(axis=(1, 2))
    assert labels[:, 0].tolist() == reddish.astype(np.float32).tolist()
    assert labels[:, 0].tolist() != sorted(labels[:, 0].tolist())  # really shuffled


def test_cache_and_stream_give_the_same_images(class_folders):
    items = labelled(class_folders)
    cached_source = ImageSource(items, 2, SIZE, 4, training=True, seed=1,
                                cache_budget_bytes=len(items) * IMAGE_BYTES)
    streamed_source = ImageSource(items, 2, SIZE, 4, training=True, seed=1,
                                  cache_budget_bytes=len(items) * IMAGE_BYTES - 1)
    assert cached_source.caching and not streamed_source.caching

    cached = make_dataset(items, 2, SIZE, 4, training=True, seed=1,
                          cache_budget_bytes=len(items) * IMAGE_BYTES)
    streamed = make_dataset(items, 2, SIZE, 4, training=True, seed=1, cache_budget_bytes=0)
    for _ in range(2):  # the second epoch of the cached one comes from RAM
        assert fingerprints(epoch(cached)[0]) == fingerprints(epoch(streamed)[0])


def test_cached_epochs_do_not_read_the_files_again(class_folders):
    items = labelled(class_folders)
    dataset = make_dataset(items, 2, SIZE, 4, training=True, seed=1,
                           cache_budget_bytes=10 * len(items) * IMAGE_BYTES)
    first = sorted(fingerprints(epoch(dataset)[0]))
    for item in items:
        item.path.write_bytes(b"gone")

    assert sorted(fingerprints(epoch(dataset)[0])) == first


def test_a_file_corrupted_after_the_scan_is_dropped_and_logged(class_folders, caplog):
    items = labelled(class_folders)
    broken = items[3].path
    broken.write_bytes(b"\x89PNG\r\n\x1a\n this is not the rest of a PNG")
    dataset = make_dataset(items, 2, SIZE, 8, training=True, seed=1)

    with caplog.at_level(logging.WARNING, logger="horsehuman_gui.core.pipeline"):
        images, labels, sizes = epoch(dataset)
        again, _, _ = epoch(dataset)

    assert len(images) == 19 and len(again) == 19
    assert sizes == [8, 8, 3]  # batches stay full; only the last one is shorter
    assert any(broken.name in record.getMessage() for record in caplog.records)


def test_should_stop_ends_the_epoch_early(class_folders):
    dataset = make_dataset(labelled(class_folders), 2, SIZE, 4, training=False,
                           should_stop=lambda: True)

    assert list(dataset) == []


@pytest.mark.parametrize("kwargs, match", [({"num_classes": 1}, "num_classes"),
                                           ({"batch_size": 0}, "batch_size")])
def test_bad_arguments_say_what_was_received(class_folders, kwargs, match):
    arguments = {"num_classes": 2, "image_size": SIZE, "batch_size": 4} | kwargs
    with pytest.raises(ValueError, match=match):
        make_dataset(labelled(class_folders), training=False, **arguments)


def test_the_epoch_number_can_come_from_the_trainer(class_folders):
    items = labelled(class_folders)
    current = {"epoch": 4}
    dataset = make_dataset(items, 2, SIZE, 6, training=True, seed=7,
                           epoch=lambda: current["epoch"])
    reference = ImageSource(items, 2, SIZE, 6, training=True, seed=7, cache_budget_bytes=0)

    first, repeated = (fingerprints(epoch(dataset)[0]) for _ in range(2))
    current["epoch"] = 5
    fifth = fingerprints(epoch(dataset)[0])

    assert first == repeated  # extra passes (Keras's spare iterators) do not move the order
    assert first != fifth
    by_path = {item.path: image for item, image in zip(
        items, epoch(make_dataset(items, 2, SIZE, 20, training=False))[0])}
    expected = [by_path[items[i].path].tobytes() for i in reference.order(5)]
    assert fifth == expected


def test_the_cache_fills_in_the_background_before_the_first_epoch(class_folders):
    items = labelled(class_folders)
    source = ImageSource(items, 2, SIZE, 4, training=True, seed=1,
                         cache_budget_bytes=len(items) * IMAGE_BYTES)

    for future in source.filling.values():
        future.result(timeout=30)

    assert source.cached.all()
    first = next(iter(source()))[0]
    assert first.shape == (4, SIZE, SIZE, 3)


def test_a_dropped_source_is_freed_even_while_its_cache_is_filling(class_folders, monkeypatch):
    import gc
    import weakref

    from horsehuman_gui.core import pipeline

    real_load = pipeline.load_array

    def slow_load(path, size):
        time.sleep(0.01)
        return real_load(path, size)

    monkeypatch.setattr(pipeline, "load_array", slow_load)
    items = labelled(class_folders) * 20  # 400 images, 10 ms each: seconds of filling left
    source = ImageSource(items, 2, SIZE, 4, training=True, seed=1,
                         cache_budget_bytes=len(items) * IMAGE_BYTES)
    alive = weakref.ref(source)
    futures = list(source.filling.values())

    del source
    for _ in range(100):  # a decode already running holds it for a few milliseconds
        gc.collect()
        if alive() is None:
            break
        time.sleep(0.01)

    assert alive() is None
    assert sum(future.cancelled() for future in futures) > len(futures) // 2


def test_a_kept_alive_source_is_freed_when_its_owner_lets_go(class_folders):
    """TensorFlow keeps every from_generator callable for the life of the process: with
    keep_alive the dataset reaches its source (and its decoded-image cache) only weakly."""
    import gc
    import weakref

    sources: list = []
    dataset = make_dataset(labelled(class_folders), 2, 16, 4, training=True,
                           cache_budget_bytes=10**8, keep_alive=sources)
    assert sum(len(x) for x, _ in dataset) == 20
    (source,) = sources
    ref = weakref.ref(source)
    del source
    sources.clear()
    gc.collect()
    assert ref() is None
    assert list(dataset) == []  # an iterator made afterwards yields nothing, and fails nothing


def test_release_frees_the_cache_while_an_iterator_is_still_suspended(class_folders):
    """Keras drops its iterator only when fit returns: the decoded images must go before,
    so that restoring the best weights does not need room beside them."""
    import gc
    import weakref

    items = labelled(class_folders)
    source = ImageSource(items, 2, SIZE, 4, training=True, seed=1,
                         cache_budget_bytes=len(items) * IMAGE_BYTES)
    for future in source.filling.values():
        future.result(timeout=30)
    batches = source()
    first = next(batches)  # the generator now waits inside an epoch read from the cache
    cache = weakref.ref(source.cache)

    source.release()
    gc.collect()

    assert cache() is None
    assert first[0].shape == (4, SIZE, SIZE, 3)  # what was handed out stays valid
    assert list(batches) == [] and list(source()) == []  # nothing more once released


def test_training_leaves_no_image_source_behind(class_folders):
    import gc

    from horsehuman_gui.core.config import TrainConfig
    from horsehuman_gui.core.dataset import scan_dataset
    from horsehuman_gui.core.training import train

    def sources() -> set[int]:
        gc.collect()
        return {id(o) for o in gc.get_objects() if isinstance(o, ImageSource)}

    report = scan_dataset(class_folders, seed=1)
    before = sources()  # earlier tests' datasets, held by TensorFlow's registry
    train(report, TrainConfig(model="compact", image_size=16, epochs=2, batch_size=4))
    assert not sources() - before
